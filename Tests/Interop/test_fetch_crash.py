"""`postoffice fetch` killed at every step, as a real process against real servers.

DESIGN.md invariants 1 (no mail lost: the client deletes on the server only what is stored and
recorded; a dropped connection deletes nothing) and 2 (no mail stored twice, even when killed at
any instant). The engine's fault points (`POSTOFFICE_FAULT=after-POINT:N`, FaultInjector.swift)
end the process with `_exit(137)` when the N-th message reaches POINT; a second run without the
fault must finish the job: every message stored exactly once, the server's Maildir empty.

Fault points are counted per run: `quit` is reached once; `dele-sent` N times in a row after the
batch of DELEs is acknowledged, so every index stops at the same instant (before QUIT).
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from harness import corpus
from harness.fetchrun import (FAULT_EXIT, FetchClient, assert_exactly_once, assert_no_loss_no_duplicate,
                              deliver_files, server_ids, wait_process)
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


def expected_second_run(point: str, index: int) -> tuple[int, int, int]:
    """(downloaded, recovered, deleted) of the clean run after a crash at `after-POINT:index`
    with the delete policy."""
    if point in ("downloaded", "fsynced"):  # message `index` was not yet visible: fetched again
        return N - index + 1, 0, N
    if point == "renamed":  # visible but not recorded: recognised, recorded, not stored again
        return N - index, 1, N
    if point == "recorded":
        return N - index, 0, N
    if point == "dele-sent":  # all stored and recorded; the server deleted nothing without QUIT
        return 0, 0, N
    return 0, 0, 0  # quit: the server already deleted everything


def crash_then_recover(server, client: FetchClient, point: str, index: int, *, keep: bool):
    messages = crash_corpus()
    deliver_files(server, client.user, messages)
    options = ("--keep",) if keep else ()
    context = f"after-{point}:{index} to {client.target_kind}"

    crashed = client.run(*options, fault=f"after-{point}:{index}", expect=FAULT_EXIT)
    assert crashed.returncode == FAULT_EXIT
    on_server = server_ids(server, client.user)
    # Invariant 1: without QUIT the server deletes nothing.
    assert len(on_server) == (0 if point == "quit" and not keep else N), context
    assert_no_loss_no_duplicate(messages, client.saved(), on_server, context=context)

    second = client.report(*options)
    assert second["errors"] == [], second
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
