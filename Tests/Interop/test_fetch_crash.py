"""`postoffice fetch` killed at every step, as a real process against real servers.

DESIGN.md invariants 1 (no mail lost: the client deletes on the server only what is stored and
recorded; a dropped connection deletes nothing) and 2 (no mail stored twice, even when killed at
any instant). The engine's fault points (`POSTOFFICE_FAULT=after-POINT:N`, FaultInjector.swift)
end the process with `_exit(137)` when the N-th message reaches POINT; a second run without the
fault must finish the job: every message stored exactly once, the server's Maildir empty.

Fault points are counted per run: `quit` is reached once; `dele-sent` N times in a row after the
batch of DELEs is acknowledged, so every index stops at the same instant (before QUIT).

A delivery command (MDA) cannot be asked what it has: killed after the command accepted a message
and before the state recorded it (`after-renamed`), the rerun delivers that message once more.
The state records the hand-over before the command runs (`after-handed-over`), so the rerun knows
and says so (`possibleDuplicates`, `POSTOFFICE_POSSIBLE_DUPLICATE=1`): at most one duplicate per
interrupted run, each copy carrying the same X-PostOffice-UIDL, never a loss.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from harness import corpus
from harness.fetchrun import (FAULT_EXIT, FetchClient, assert_exactly_once, assert_no_loss_no_duplicate,
                              deliver_files, ids_of, server_ids, wait_process)
from harness.servers import DovecotServer, PostOfficeServer

POINTS = ["downloaded", "fsynced", "renamed", "recorded", "dele-sent", "quit"]


def crash_corpus() -> list[corpus.Message]:
    """Eight small messages with the edge cases a local store must keep intact (dots, CRLF,
    no final newline, NUL, a body line starting with `From `)."""
    return [corpus.plain_ascii(), corpus.utf8_body(), corpus.leading_dots(), corpus.lone_dot(),
            corpus.crlf_stored(), corpus.no_final_newline(), corpus.nul_byte(), corpus.small(1)]


N = len(crash_corpus())
INDICES = [1, N // 2, N]


def cases(points, targets, indices=INDICES):
    for target in targets:
        for point in points:
            for index in ([1] if point == "quit" else indices):
                yield pytest.param(target, point, index, id=f"{target}-{point}-{index}")


@pytest.fixture
def our_server(workdir, pki, users, postoffice_bin):
    server = PostOfficeServer(workdir / "server", pki, users, postoffice_bin)
    (workdir / "server").mkdir(exist_ok=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot(workdir, pki, users):
    directory = workdir / "dovecot"
    directory.mkdir()
    server = DovecotServer(directory, pki, users)
    try:
        server.start()
        yield server
    finally:
        server.stop()


#: `--pipeline-window` (256 by default): a window of messages is stored as one group (written and
#: fsynced, made visible, the directory fsynced once, recorded in one transaction).
WINDOW = 256


def expected_second_run(point: str, index: int, window: int = WINDOW) -> tuple[int, int, int]:
    """(downloaded, recovered, deleted) of the clean run after a crash at `after-POINT:index`
    with the delete policy, into files (Maildir, mbox), where message `index` was stored in the
    group of messages `first`..`last`; earlier groups were recorded."""
    first = (index - 1) // window * window + 1
    last = min(first + window - 1, N)
    if point in ("downloaded", "fsynced"):  # the group was not yet visible: fetched again
        return N - first + 1, 0, N
    if point == "renamed":  # the group is visible but not recorded: recognised, recorded, not stored again
        return N - last, last - first + 1, N
    if point == "recorded":  # the group's one transaction is done
        return N - last, 0, N
    if point == "dele-sent":  # all stored and recorded; the server deleted nothing without QUIT
        return 0, 0, N
    return 0, 0, 0  # quit: the server already deleted everything


def crash_then_recover(server, client: FetchClient, point: str, index: int, *, keep: bool,
                       extra: tuple[str, ...] = ()):
    messages = crash_corpus()
    deliver_files(server, client.user, messages)
    options = (("--keep",) if keep else ()) + extra
    context = f"after-{point}:{index} to {client.target_kind}"

    crashed = client.run(*options, fault=f"after-{point}:{index}", expect=FAULT_EXIT)
    assert crashed.returncode == FAULT_EXIT
    on_server = server_ids(server, client.user)
    # Invariant 1: without QUIT the server deletes nothing.
    assert len(on_server) == (0 if point == "quit" and not keep else N), context
    assert_no_loss_no_duplicate(messages, client.saved(), on_server, context=context)

    second = client.report(*options)
    assert second["errors"] == [], second
    if client.target_kind == "mda" and point == "renamed":
        # The command had accepted message `index`; the rerun could not know and delivered it
        # again: that one twice, both copies whole and with the same X-PostOffice-UIDL.
        twice = messages[index - 1]
        saved = client.saved()
        copies = [data for data in saved if twice.message_id in ids_of([data])]
        assert len(copies) == 2, context
        uidls = {data.split(b"X-PostOffice-UIDL: ", 1)[1].split(b"\n", 1)[0] for data in copies}
        assert len(uidls) == 1, (context, uidls)
        assert_exactly_once(messages, [data for data in saved if data is not copies[1]],
                            context=context + ", second run")
    else:
        assert_exactly_once(messages, client.saved(), context=context + ", second run")
    assert client.leftovers() == [], context
    return messages, second


@pytest.mark.parametrize("target, point, index", list(cases(POINTS, ["maildir", "mbox"])))
def test_killed_at_fault_point_then_rerun_delivers_exactly_once(our_server, client_dir, users, postoffice_bin,
                                                                pki, target, point, index):
    client = FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"], target=target)
    messages, second = crash_then_recover(our_server, client, point, index, keep=False)
    downloaded, recovered, deleted = expected_second_run(point, index)
    assert (second["downloaded"], second["recovered"], second["deleted"]) == (downloaded, recovered, deleted), second
    assert our_server.stored("alice") == []
    # A third run finds nothing to do.
    third = client.report()
    assert (third["downloaded"], third["recovered"], third["deleted"]) == (0, 0, 0), third
    assert_exactly_once(messages, client.saved(), context="third run")


@pytest.mark.parametrize("point", ["fsynced", "renamed", "recorded"])
@pytest.mark.parametrize("index", [2, 5])
def test_killed_mid_group_with_a_small_window(our_server, client_dir, users, postoffice_bin, pki, point, index):
    """Windows of 3: messages 1-3, 4-6, 7-8 are stored as three groups; a kill inside the
    second leaves the first recorded and the second whole or absent, never half recorded."""
    client = FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"])
    _, second = crash_then_recover(our_server, client, point, index, keep=False,
                                   extra=("--pipeline-window", "3"))
    assert (second["downloaded"], second["recovered"], second["deleted"]) == \
        expected_second_run(point, index, window=3), second
    assert our_server.stored("alice") == []


@pytest.mark.parametrize("point, index", [("renamed", 3), ("renamed", 4), ("recorded", 3), ("recorded", N)])
def test_killed_inside_a_window_while_the_next_is_received(dovecot, client_dir, users, postoffice_bin, pki, point,
                                                           index):
    """Windows of 2 against Dovecot, pipelined: each window is stored while the next streams in.
    Killed between a window's stores and its state commit (`renamed`: its files are visible, not
    recorded) or between its commit and the DELEs (`recorded`; at N, after the last window), the
    window after it was on its way and none of it is kept; the rerun records the visible window
    without downloading it again, downloads the rest, and every message is stored once."""
    client = FetchClient(postoffice_bin, client_dir, dovecot, pki, "alice", users["alice"])
    window = 2
    messages = crash_corpus()
    deliver_files(dovecot, client.user, messages)
    crashed = client.run("--pipeline-window", str(window), fault=f"after-{point}:{index}", expect=FAULT_EXIT)
    assert crashed.returncode == FAULT_EXIT
    last_of_window = (index - 1) // window * window + window
    kept = ids_of(client.saved())
    assert set(kept) <= {m.message_id for m in messages[:last_of_window]}, kept
    on_server = server_ids(dovecot, client.user)
    assert len(on_server) == N  # no QUIT: nothing deleted
    assert_no_loss_no_duplicate(messages, client.saved(), on_server, context=f"after-{point}:{index}")

    second = client.report("--pipeline-window", str(window))
    assert second["errors"] == [], second
    assert (second["downloaded"], second["recovered"], second["deleted"]) == \
        expected_second_run(point, index, window=window), second
    assert_exactly_once(messages, client.saved(), context=f"after-{point}:{index}, second run")
    assert client.leftovers() == []
    assert dovecot.stored("alice") == []


MDA_POINTS = ["downloaded", "fsynced", "handed-over", "renamed", "recorded", "dele-sent", "quit"]


def expected_second_run_into_command(point: str, index: int) -> tuple[int, int, int, int]:
    """(downloaded, recovered, deleted, possibleDuplicates) of the clean run after a crash at
    `after-POINT:index` into a delivery command: nothing is ever recovered (a command cannot be
    asked), and a recorded hand-over makes the rerun say the message may be a duplicate."""
    if point in ("downloaded", "fsynced"):
        return N - index + 1, 0, N, 0
    if point in ("handed-over", "renamed"):
        return N - index + 1, 0, N, 1
    if point == "recorded":
        return N - index, 0, N, 0
    return (0, 0, N, 0) if point == "dele-sent" else (0, 0, 0, 0)


@pytest.mark.parametrize("target, point, index", list(cases(MDA_POINTS, ["mda"])))
def test_command_killed_at_fault_point_then_rerun_loses_nothing_and_says_so(our_server, client_dir, users,
                                                                            postoffice_bin, pki, target, point,
                                                                            index):
    client = FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"], target=target)
    messages, second = crash_then_recover(our_server, client, point, index, keep=False)
    downloaded, recovered, deleted, possible = expected_second_run_into_command(point, index)
    assert (second["downloaded"], second["recovered"], second["deleted"], second["possibleDuplicates"]) == \
        (downloaded, recovered, deleted, possible), second
    told = client.told_possible_duplicates()
    assert told == ([messages[index - 1].message_id] if possible else []), told
    if possible:
        assert any("may arrive twice" in warning for warning in second["warnings"]), second["warnings"]
    assert our_server.stored("alice") == []
    third = client.report()
    assert (third["downloaded"], third["possibleDuplicates"]) == (0, 0), third


@pytest.mark.parametrize("target, point, index",
                         list(cases(["downloaded", "fsynced", "renamed", "recorded", "quit"], ["maildir", "mbox"],
                                    indices=[N // 2])))
def test_killed_with_keep_then_nothing_deleted_nothing_duplicated(our_server, client_dir, users, postoffice_bin,
                                                                  pki, target, point, index):
    client = FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"], target=target)
    messages, second = crash_then_recover(our_server, client, point, index, keep=True)
    assert second["deleted"] == 0
    third = client.report("--keep")
    assert (third["downloaded"], third["recovered"], third["deleted"]) == (0, 0, 0), third
    assert_exactly_once(messages, client.saved(), context="third run with --keep")
    assert sorted(server_ids(our_server, "alice")) == sorted(m.message_id for m in messages)


@pytest.mark.parametrize("point", ["recorded", "dele-sent", "quit"])
def test_killed_against_dovecot_then_rerun_delivers_exactly_once(dovecot, client_dir, users, postoffice_bin, pki,
                                                                 point):
    client = FetchClient(postoffice_bin, client_dir, dovecot, pki, "alice", users["alice"])
    index = 1 if point == "quit" else N // 2
    _, second = crash_then_recover(dovecot, client, point, index, keep=False)
    assert (second["downloaded"], second["recovered"], second["deleted"]) == expected_second_run(point, index)
    assert dovecot.stored("alice") == []


# -- random SIGKILL ----------------------------------------------------------------------------

SEED = 20260302
KILL_ITERATIONS = 15


def numbered_big_attachment(batch: int) -> corpus.Message:
    big = corpus.big_attachment()  # about 5 MB, cached by the corpus
    if batch == 0:
        return big
    return corpus.Message(f"big-attachment-{batch}",
                          big.data.replace(b"<big-attachment@", f"<big-attachment-{batch}@".encode(), 1))


def kill_batch(batch: int) -> list[corpus.Message]:
    """About 150 small messages and one of 5 MB, with Message-IDs unique to `batch`."""
    return [corpus.small(batch * 1000 + i) for i in range(150)] + [numbered_big_attachment(batch)]


@pytest.mark.parametrize("target", ["maildir", "mbox", "mda"])
def test_random_sigkill_then_clean_run_delivers_exactly_once(our_server, client_dir, users, postoffice_bin, pki,
                                                             target):
    rng = random.Random(f"{SEED}-{target}")
    messages = kill_batch(0)
    deliver_files(our_server, "alice", messages)

    # The typical run time: a --keep run of the same mail into a scratch store.
    scratch = client_dir / "calibration"
    scratch.mkdir()
    calibration = FetchClient(postoffice_bin, scratch, our_server, pki, "alice", users["alice"], target=target)
    started = time.monotonic()
    calibration.run("--keep")
    typical = time.monotonic() - started

    client = FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"], target=target)
    outcomes = []
    for iteration in range(KILL_ITERATIONS):
        delay = rng.uniform(0, typical)
        process = client.start()
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        status, _, stderr = wait_process(process, timeout=60)
        assert status in (0, -signal.SIGKILL), stderr.decode("utf-8", "replace")[-3000:]
        outcomes.append("killed" if status else "finished")
        context = f"seed {SEED}, iteration {iteration}, killed after {delay:.3f} s of a typical {typical:.3f} s"
        # A command may get one message twice per interrupted run (the module's docstring).
        allowed = outcomes.count("killed") if target == "mda" else 0
        assert_no_loss_no_duplicate(messages, client.saved(), server_ids(our_server, "alice"), context=context,
                                    duplicates_allowed=allowed)
        if status == 0:
            # Nothing left to interrupt: deliver another batch so the next kill lands mid-run.
            batch = kill_batch(iteration + 1)
            deliver_files(our_server, "alice", batch)
            messages += batch

    final = client.report()
    assert final["errors"] == [], final
    context = f"seed {SEED}, after the clean run ({outcomes})"
    if target == "mda":
        saved = client.saved()
        ids = ids_of(saved)
        assert len(ids) - len(set(ids)) <= outcomes.count("killed"), context
        unique = [data for position, data in enumerate(saved) if ids.index(ids[position]) == position]
        assert_exactly_once(messages, unique, context=context)
    else:
        assert_exactly_once(messages, client.saved(), context=context)
    assert our_server.stored("alice") == []
    assert client.leftovers() == []
    # Kills land mid-run often enough to matter (a run that finished first is followed by a new batch).
    assert outcomes.count("killed") >= 3, outcomes
    print(f"{target}: typical run {typical:.2f} s, outcomes {outcomes}, {len(messages)} messages")


# -- the server vanishes mid-RETR --------------------------------------------------------------

def large_message(name: str, size: int) -> corpus.Message:
    """A plain-text message of about `size` octets (numbered lines, cheap to make)."""
    line_count = size // 80
    lines = b"".join(b"%08d abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123\n" % i
                     for i in range(line_count))
    header = (f"Date: Mon, 2 Mar 2026 10:00:00 +0000\nFrom: Sender <sender@example.test>\n"
              f"To: Alice <alice@example.test>\nSubject: Large\nMessage-ID: <{name}@interop.test>\n\n").encode()
    return corpus.Message(name, header + lines)


def wait_for_partial_download(directory: Path, minimum: int, process, timeout: float = 60) -> int:
    """Waits until a file in `directory` (the client's tmp/) has at least `minimum` octets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "fetch ended before the large message was half received"
        for path in directory.glob("*") if directory.is_dir() else []:
            try:
                if path.stat().st_size >= minimum:
                    return path.stat().st_size
            except FileNotFoundError:
                continue
        time.sleep(0.01)
    raise AssertionError(f"no partial download of {minimum} octets in {directory} within {timeout} s")


def test_server_killed_mid_retr_fails_with_network_error_then_rerun_completes(workdir, pki, users, postoffice_bin,
                                                                             client_dir):
    directory = workdir / "server"
    directory.mkdir()
    server = PostOfficeServer(directory, pki, users, postoffice_bin)
    restarted = None
    try:
        server.start()
        small = [corpus.small(i) for i in range(5)]
        large = large_message("thirty-megabytes", 30 * 1024 * 1024)
        messages = small + [large]
        deliver_files(server, "alice", messages)  # in this order: the small ones are listed first
        client = FetchClient(postoffice_bin, client_dir, server, pki, "alice", users["alice"])
        process = client.start("--pipeline-window", "1")
        started = time.monotonic()
        wait_for_partial_download(client.target_path / "tmp", 1024 * 1024, process)
        server.process.process.send_signal(signal.SIGKILL)  # by PID: the server is our child
        server.process.process.wait(timeout=10)
        status, stdout, stderr = wait_process(process, timeout=70)
        elapsed = time.monotonic() - started
        text = stderr.decode("utf-8", "replace")
        assert status == 69, text
        assert elapsed < 70
        assert "alice" in text and ("connection" in text.lower() or "closed" in text.lower()), text

        # What was stored before is intact; the large message is not stored in part.
        saved = client.saved()
        assert_no_loss_no_duplicate(messages, saved, server_ids(server, "alice"), context="after the server died")
        assert_exactly_once(small, saved, context="the messages stored before the server died")
        assert client.leftovers() == [], "a run that ends with an error removes its partial file"
        # Without QUIT the server deleted nothing.
        assert sorted(server_ids(server, "alice")) == sorted(m.message_id for m in messages)

        restarted = PostOfficeServer(directory, pki, users, postoffice_bin)
        restarted.start()
        client.server = restarted
        report = client.report()
        assert (report["downloaded"], report["deleted"]) == (1, 6), report
        assert_exactly_once(messages, client.saved(), context="after the rerun")
        assert restarted.stored("alice") == []
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
