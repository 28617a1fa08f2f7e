"""`postoffice fetch` as a person or a script meets it: exit codes and messages for certificate,
password and network failures; concurrent runs; `--json`; `--mark-seen`; `--import-state`;
`--config` with several accounts; `--daemon` with polling, SIGTERM and SIGHUP.

Exit codes (FetchCommand.swift, sysexits(3)): 0 success, 77 authentication, 76 TLS, 69 network,
75 another run holds the account, 78 configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import poplib
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import corpus, procs, tls
from harness.clients import Mpop
from harness.fetchrun import (FetchClient, assert_exactly_once, deliver_files, ids_of, saved_messages, server_ids,
                              wait_process)
from harness.servers import PostOfficeServer

EXIT_NETWORK, EXIT_LOCKED, EXIT_TLS, EXIT_AUTH = 69, 75, 76, 77


@pytest.fixture
def our_server(workdir, pki, users, postoffice_bin):
    server = start_server(workdir / "server", pki, users, postoffice_bin)
    try:
        yield server
    finally:
        server.stop()


def start_server(directory: Path, pki: tls.TestPKI, users, binary) -> PostOfficeServer:
    directory.mkdir(exist_ok=True)
    server = PostOfficeServer(directory, pki, users, binary)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def alice(postoffice_bin, client_dir, our_server, pki, users):
    return FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"])


def stderr_of(result) -> str:
    return result.stderr.decode("utf-8", "replace")


# -- certificates ------------------------------------------------------------------------------

certificate = tls.issue_certificate


def assert_refused(result, *fragments: str) -> str:
    text = stderr_of(result)
    assert result.returncode == EXIT_TLS, procs.describe_result(result)
    lowered = text.lower()
    for fragment in fragments:
        assert fragment.lower() in lowered, f"expected {fragment!r} in the message:\n{text}"
    return text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_certificate_for_another_name_is_refused(workdir, pki, users, postoffice_bin, client_dir, host):
    wrong = certificate(workdir / "wrong-name", pki, "DNS:mail.example.test", stem="wrong")
    server = start_server(workdir / "server", wrong, users, postoffice_bin)
    try:
        deliver_files(server, "alice", [corpus.small(1)])
        client = FetchClient(postoffice_bin, client_dir, server, pki, "alice", users["alice"])
        result = client.run(host=host, expect=None)
        assert_refused(result, f"for mail.example.test, not {host}")
        assert client.saved() == [] and len(server.stored("alice")) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_certificate_of_an_unknown_ca_is_refused_with_advice(alice, our_server, mode):
    deliver_files(our_server, "alice", [corpus.small(1)])
    result = alice.run(trust=(), mode=mode, expect=None)  # the system trust store only
    assert_refused(result, "not trusted", "--ca-file", "--fingerprint")
    assert alice.saved() == [] and len(our_server.stored("alice")) == 1


def test_self_signed_certificate_is_refused_then_pinned(workdir, users, postoffice_bin, client_dir):
    self_signed = certificate(workdir / "self-signed", None, "DNS:localhost", stem="self")
    server = start_server(workdir / "server", self_signed, users, postoffice_bin)
    try:
        deliver_files(server, "alice", [corpus.small(1)])
        client = FetchClient(postoffice_bin, client_dir, server, self_signed, "alice", users["alice"])
        assert_refused(client.run(host="localhost", trust=(), expect=None), "self-signed", "not trusted")
        # The advice in the message works: trust exactly this certificate.
        report = client.report(host="localhost", trust=("--fingerprint", "SHA256:" + self_signed.server_sha256))
        assert report["downloaded"] == 1
    finally:
        server.stop()


def test_fingerprint_mismatch_is_refused_and_match_and_insecure_work(alice, our_server, other_pki, pki):
    messages = [corpus.small(1), corpus.small(2)]
    deliver_files(our_server, "alice", messages)
    assert_refused(alice.run("--keep", trust=("--fingerprint", other_pki.server_sha256), expect=None),
                   "fingerprint", "does not match")
    colons = ":".join(pki.server_sha256[i:i + 2] for i in range(0, 64, 2)).upper()
    assert alice.report("--keep", trust=("--fingerprint", colons))["downloaded"] == 2
    assert alice.report(trust=("--insecure",))["deleted"] == 2
    assert_exactly_once(messages, alice.saved())
    assert our_server.stored("alice") == []


# -- password and network ----------------------------------------------------------------------

def test_wrong_password_exits_77_and_changes_nothing(alice, our_server):
    deliver_files(our_server, "alice", [corpus.small(1)])
    alice.password_file.write_text("not-the-password\n")
    result = alice.run(expect=None)
    assert result.returncode == EXIT_AUTH, procs.describe_result(result)
    assert b"not-the-password" not in result.stdout + result.stderr
    assert alice.saved() == [] and len(our_server.stored("alice")) == 1


def test_nothing_listening_exits_69(alice):
    port = procs.free_port()
    started = time.monotonic()
    result = alice.run(port=port, expect=None, timeout=60)
    assert result.returncode == EXIT_NETWORK, procs.describe_result(result)
    assert time.monotonic() - started < 30
    assert f"port {port}" in stderr_of(result) and "refused" in stderr_of(result).lower()


@pytest.mark.parametrize("via", ["config", "flag"])
def test_silent_server_times_out_with_69(workdir, client_dir, postoffice_bin, pki, users, via):
    """A server that accepts and never answers: the configured timeout (`timeout` in the
    config, or `--timeout`) ends the run."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((procs.HOST, 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        (client_dir / "pw").write_text(users["alice"] + "\n")
        config = client_dir / "fetch.toml"
        config.write_text(f"""
[[account]]
name = "silent"
host = "{procs.HOST}"
port = {listener.getsockname()[1]}
tls = "starttls"
user = "alice"
password_file = "{client_dir / 'pw'}"
ca_file = "{pki.ca_cert}"
to = "maildir:{client_dir / 'Maildir'}"
state = "{client_dir / 'silent.state'}"
timeout = "2s"
""")
        if via == "config":
            argv = [str(postoffice_bin), "fetch", "--config", str(config)]
        else:
            argv = [str(postoffice_bin), "fetch", "--host", procs.HOST, "--port", str(listener.getsockname()[1]),
                    "--tls", "starttls", "--user", "alice", "--password-file", str(client_dir / "pw"),
                    "--ca-file", str(pki.ca_cert), "--to", f"maildir:{client_dir / 'Maildir'}",
                    "--state", str(client_dir / "silent.state"), "--timeout", "2s"]
        started = time.monotonic()
        result = procs.run(argv, check=False, timeout=90)
        elapsed = time.monotonic() - started
        assert result.returncode == EXIT_NETWORK, procs.describe_result(result)
        assert elapsed < 15, f"the 2 s timeout took {elapsed:.1f} s"
        assert accepted, "fetch never connected"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


# -- concurrent runs of one account ------------------------------------------------------------

def flock_held(path: Path) -> bool:
    """Whether some process holds a flock on `path`, read from /proc/locks (never taking it,
    which could make the run under test fail instead)."""
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return False
    with open("/proc/locks") as locks:
        return any(line.split()[1] == "FLOCK" and line.split()[5].endswith(f":{inode}") for line in locks
                   if len(line.split()) > 5)


def test_second_run_while_the_first_holds_the_account_exits_75(alice, our_server):
    messages = corpus.many_small(300) + [corpus.big_attachment()]
    deliver_files(our_server, "alice", messages)
    first = alice.start()
    try:
        lock = Path(str(alice.state) + ".lock")
        deadline = time.monotonic() + 30
        while not flock_held(lock):
            assert first.poll() is None, "the first run ended before it was seen holding the lock"
            assert time.monotonic() < deadline, "the first run never took the account lock"
            time.sleep(0.005)
        second = alice.run(expect=None, timeout=60)
        assert first.poll() is None, "the first run finished before the second started: no overlap"
    finally:
        status, _, stderr = wait_process(first, timeout=120)
    assert status == 0, stderr.decode("utf-8", "replace")[-3000:]
    assert second.returncode == EXIT_LOCKED, procs.describe_result(second)
    assert "another fetch" in stderr_of(second)
    assert_exactly_once(messages, alice.saved())
    assert our_server.stored("alice") == []


def test_two_runs_started_together_store_each_message_once(alice, our_server):
    """Started at the same instant: one gets the lock, the other exits 75, or (when the first
    finished before the second looked) both succeed. Either way nothing is stored twice."""
    messages = corpus.many_small(200)
    deliver_files(our_server, "alice", messages)
    runs = [alice.start("--json"), alice.start("--json")]
    results = [wait_process(run, timeout=120) for run in runs]
    statuses = sorted(status for status, _, _ in results)
    assert statuses in ([0, 0], [0, EXIT_LOCKED]), [r[2].decode("utf-8", "replace")[-2000:] for r in results]
    assert_exactly_once(messages, alice.saved())
    assert our_server.stored("alice") == []
    print(f"concurrent runs ended with {statuses}")


# -- --json, --mark-seen, --import-state -------------------------------------------------------

def test_json_summary_counts(alice, our_server):
    messages = corpus.many_small(5)
    deliver_files(our_server, "alice", messages)
    report = alice.report("--keep")
    assert (report["downloaded"], report["deleted"], report["errors"]) == (5, 0, [])
    assert report["account"] == f"alice@{our_server.host}"
    assert report["bytes"] >= sum(len(m.wire) for m in messages)
    report = alice.report()
    assert (report["downloaded"], report["deleted"]) == (0, 5)
    assert_exactly_once(messages, alice.saved())


def test_mark_seen_then_fetch_downloads_only_new_mail(alice, our_server):
    old = corpus.many_small(4)
    deliver_files(our_server, "alice", old)
    marked = alice.report("--mark-seen", "--keep")
    assert (marked["markedSeen"], marked["downloaded"]) == (4, 0)
    assert alice.saved() == [] and len(our_server.stored("alice")) == 4
    assert alice.report("--keep")["downloaded"] == 0
    new = corpus.small(100)
    deliver_files(our_server, "alice", [new])
    report = alice.report("--keep")
    assert report["downloaded"] == 1
    assert_exactly_once([new], alice.saved())
    assert len(our_server.stored("alice")) == 5


def server_uidls(server, pki, user: str, password: str) -> list[str]:
    pop = poplib.POP3_SSL(server.host, server.pop3s_port, context=pki.client_context(), timeout=30)
    try:
        pop.user(user)
        pop.pass_(password)
        return [line.split()[1].decode() for line in pop.uidl()[1]]
    finally:
        pop.quit()


def test_import_mpop_state_skips_what_mpop_fetched(alice, our_server, pki, users):
    messages = corpus.many_small(6)
    deliver_files(our_server, "alice", messages)
    uidls = server_uidls(our_server, pki, "alice", users["alice"])
    assert len(uidls) == 6
    state = alice.home / "mpop_uidls"
    # mpop's UIDLS file: a version line, then per account " <count> <host> <user>" and its uids;
    # an entry of another account with the same uids must not be imported.
    state.write_text("MPOP_UIDLS_VERSION 1\n"
                     f" 2 {our_server.host} bob\n{uidls[4]}\n{uidls[5]}\n"
                     f" 4 {our_server.host} alice\n" + "".join(u + "\n" for u in uidls[:4]))
    report = alice.report("--keep", "--import-state", f"mpop:{state}")
    assert (report["markedSeen"], report["downloaded"]) == (4, 2), report
    assert_exactly_once(messages[4:], alice.saved())


@pytest.mark.parametrize("prefix", ["mpop:", ""], ids=["named", "recognised"])
def test_import_state_written_by_real_mpop(alice, our_server, pki, users, client_dir, prefix):
    """With `mpop:FILE`, and with a bare FILE that fetch recognises as mpop's by its contents."""
    messages = corpus.many_small(3)
    deliver_files(our_server, "alice", messages)
    mpop = Mpop(client_dir / "mpop", our_server, pki, "alice", users["alice"], mode="pop3s", keep=True)
    mpop.run()
    assert len(mpop.saved()) == 3
    extra = corpus.small(50)
    deliver_files(our_server, "alice", [extra])
    report = alice.report("--keep", "--import-state", f"{prefix}{client_dir / 'mpop' / 'uidls'}")
    assert (report["markedSeen"], report["downloaded"]) == (3, 1), report
    assert_exactly_once([extra], alice.saved())


@pytest.mark.parametrize("kind", ["fetchmail", "thunderbird"])
def test_import_state_recognises_the_program_by_contents(alice, our_server, pki, users, kind):
    messages = corpus.many_small(4)
    deliver_files(our_server, "alice", messages)
    uidls = server_uidls(our_server, pki, "alice", users["alice"])
    state = alice.home / "state-to-import"
    if kind == "fetchmail":
        state.write_text("".join(f"alice@{our_server.host} {uid}\n" for uid in uidls[:3]))
    else:
        state.write_text(f"# POP3 State File\n# This is a generated file!  Do not edit.\n\n*{our_server.host} alice\n"
                         + "".join(f"k {uid} 1700000000\n" for uid in uidls[:3]))
    report = alice.report("--keep", "--import-state", str(state))
    assert (report["markedSeen"], report["downloaded"]) == (3, 1), report
    assert_exactly_once(messages[3:], alice.saved())


def test_import_state_that_fits_several_programs_asks_for_the_kind(alice, our_server):
    state = alice.home / "empty-state"
    state.write_text("")
    result = alice.run("--import-state", str(state), expect=78)
    text = stderr_of(result)
    assert "fetchmail or getmail or mpop or thunderbird" in text, text
    assert f"KIND:{state}" in text, text
    assert alice.saved() == []


# -- --config with several accounts, and --daemon -----------------------------------------------

def account_table(name: str, server, pki, user: str, home: Path, secret: str) -> str:
    return f"""
[[account]]
name = "{name}"
host = "{server.host}"
port = {server.pop3s_port}
user = "{user}"
{secret}
ca_file = "{pki.ca_cert}"
to = "maildir:{home / (name + '-Maildir')}"
state = "{home / (name + '.state')}"
"""


def two_account_config(client_dir: Path, server, pki, users, *, bob: bool = True) -> Path:
    secret_file = client_dir / "alice-secret"
    secret_file.write_text(users["alice"] + "\n")
    secret_file.chmod(0o600)
    text = account_table("alice", server, pki, "alice", client_dir, f'password_command = "cat {secret_file}"')
    if bob:
        text += account_table("bob", server, pki, "bob", client_dir, 'password_env = "BOB_POP_PASSWORD"')
    config = client_dir / "fetch.toml"
    config.write_text(text)
    return config


def test_config_with_two_accounts_fetches_both(our_server, client_dir, pki, users, postoffice_bin):
    for_alice, for_bob = corpus.many_small(20), [corpus.small(500 + i) for i in range(20)]
    deliver_files(our_server, "alice", for_alice)
    deliver_files(our_server, "bob", for_bob)
    config = two_account_config(client_dir, our_server, pki, users)
    env = {**os.environ, "BOB_POP_PASSWORD": users["bob"]}
    result = procs.run([str(postoffice_bin), "fetch", "--config", str(config), "--json"], env=env, timeout=120)
    accounts = {a["account"]: a for a in json.loads(result.stdout)["accounts"]}
    assert {name: a["downloaded"] for name, a in accounts.items()} == {"alice": 20, "bob": 20}
    assert_exactly_once(for_alice, saved_messages("maildir", client_dir / "alice-Maildir"), context="alice")
    assert_exactly_once(for_bob, saved_messages("maildir", client_dir / "bob-Maildir"), context="bob")
    assert our_server.stored("alice") == [] and our_server.stored("bob") == []
    assert users["bob"].encode() not in result.stdout + result.stderr


def wait_until(predicate, timeout: float, what: str, process=None) -> float:
    started = time.monotonic()
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the daemon exited with {process.returncode} while waiting for {what}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


def test_daemon_polls_reloads_on_sighup_and_stops_on_sigterm(our_server, client_dir, pki, users, postoffice_bin):
    config = two_account_config(client_dir, our_server, pki, users, bob=False)
    env = {**os.environ, "BOB_POP_PASSWORD": users["bob"]}
    log = open(client_dir / "daemon.log", "wb")
    daemon = subprocess.Popen([str(postoffice_bin), "fetch", "--config", str(config), "--daemon", "--interval", "2s",
                               "--log-level", "info"],
                              env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        alice_maildir, bob_maildir = client_dir / "alice-Maildir", client_dir / "bob-Maildir"
        first = corpus.small(1)
        deliver_files(our_server, "alice", [first])
        wait_until(lambda: len(saved_messages("maildir", alice_maildir)) == 1, 15, "fetching alice's first message",
                   daemon)
        # Polling: mail delivered while the daemon runs arrives within a few intervals.
        second = corpus.small(2)
        deliver_files(our_server, "alice", [second])
        took = wait_until(lambda: len(saved_messages("maildir", alice_maildir)) == 2, 15, "the next poll", daemon)
        assert took < 10, took
        assert_exactly_once([first, second], saved_messages("maildir", alice_maildir))

        # SIGHUP: the changed configuration (bob added) is used from the next round on.
        two_account_config(client_dir, our_server, pki, users, bob=True)
        for_bob = corpus.small(600)
        deliver_files(our_server, "bob", [for_bob])
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: len(saved_messages("maildir", bob_maildir)) == 1, 15, "fetching bob after SIGHUP", daemon)
        assert_exactly_once([for_bob], saved_messages("maildir", bob_maildir))
        assert_exactly_once([first, second], saved_messages("maildir", alice_maildir))
        assert "configuration reloaded" in (client_dir / "daemon.log").read_text()

        # Another SIGHUP: still running (the trigger is not a one-time handler), bob removed.
        two_account_config(client_dir, our_server, pki, users, bob=False)
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: (client_dir / "daemon.log").read_text().count("configuration reloaded") == 2, 15,
                   "the second reload", daemon)
        assert daemon.poll() is None

        daemon.send_signal(signal.SIGTERM)
        status = daemon.wait(timeout=15)
        assert status == 0, (client_dir / "daemon.log").read_text()[-3000:]
        assert our_server.stored("alice") == [] and our_server.stored("bob") == []
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
        log.close()


@pytest.mark.parametrize("daemon, stop_signal", [(False, signal.SIGTERM), (False, signal.SIGINT),
                                                 (True, signal.SIGTERM)], ids=["once", "once-sigint", "daemon"])
def test_sigterm_mid_run_stores_and_deletes_consistently(alice, our_server, daemon, stop_signal):
    """SIGTERM (or SIGINT, a Ctrl-C) finishes the message in flight, deletes on the server
    exactly what is stored, sends QUIT and exits (143 for a one-shot run, which did not finish;
    0 for the daemon, whose stop is the normal end); a later run fetches the rest."""
    messages = corpus.many_small(400)
    deliver_files(our_server, "alice", messages)
    # Windows of 16: the run spans many windows (the default 256 would store these 400 in two
    # groups, the second received whole before the stop could land).
    options = ("--pipeline-window", "16") + (("--daemon", "--interval", "1h") if daemon else ())
    process = alice.start(*options)
    try:
        wait_until(lambda: len(alice.saved()) >= 20, 30, "the first 20 messages", process)
        process.send_signal(stop_signal)
    finally:
        status, stdout, stderr = wait_process(process, timeout=30)
    assert status == (0 if daemon else 143), stderr.decode("utf-8", "replace")[-3000:]
    if not daemon:
        assert b"interrupted" in stdout, stdout
    local = set(ids_of(alice.saved()))
    remote = set(server_ids(our_server, "alice"))
    assert local and remote, "the stop came too late to interrupt anything"
    assert local.isdisjoint(remote), "a stored message was left on the server, or one was deleted unstored"
    assert local | remote == {m.message_id for m in messages}
    report = alice.report()
    assert report["downloaded"] == len(remote), report
    assert_exactly_once(messages, alice.saved())
    assert our_server.stored("alice") == []


def test_two_accounts_into_one_mbox_concurrently(our_server, client_dir, pki, users, postoffice_bin):
    """Accounts of one config run concurrently in one process; sharing an mbox they must take
    turns appending (POSIX record locks alone do not exclude threads of one process)."""
    for_alice = [corpus.small(i) for i in range(150)] + [corpus.long_line()]
    for_bob = [corpus.small(700 + i) for i in range(150)] + [corpus.leading_dots()]
    deliver_files(our_server, "alice", for_alice)
    deliver_files(our_server, "bob", for_bob)
    config = two_account_config(client_dir, our_server, pki, users)
    mbox = client_dir / "shared.mbox"
    config.write_text(config.read_text().replace(f"maildir:{client_dir / 'alice-Maildir'}", f"mbox:{mbox}")
                      .replace(f"maildir:{client_dir / 'bob-Maildir'}", f"mbox:{mbox}"))
    env = {**os.environ, "BOB_POP_PASSWORD": users["bob"]}
    procs.run([str(postoffice_bin), "fetch", "--config", str(config)], env=env, timeout=120)
    assert_exactly_once(for_alice + for_bob, saved_messages("mbox", mbox))
    assert our_server.stored("alice") == [] and our_server.stored("bob") == []


def test_default_config_state_and_maildir_work_in_a_fresh_home(our_server, client_dir, pki, users, postoffice_bin):
    """No --config, no `to`, no `state`: ~/.config/postoffice/fetch.toml is read, and the
    XDG default Maildir and state are created on first use."""
    home = client_dir / "home"
    (home / ".config" / "postoffice").mkdir(parents=True)
    (home / "secret").write_text(users["alice"] + "\n")
    (home / ".config" / "postoffice" / "fetch.toml").write_text(f"""
[[account]]
name = "work"
host = "{our_server.host}"
port = {our_server.pop3s_port}
user = "alice"
password_file = "~/secret"
ca_file = "{pki.ca_cert}"
""")
    messages = corpus.many_small(3)
    deliver_files(our_server, "alice", messages)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    procs.run([str(postoffice_bin), "fetch"], env=env, timeout=60)
    assert_exactly_once(messages, saved_messages("maildir", home / ".local" / "share" / "postoffice" / "mail"))
    assert (home / ".local" / "state" / "postoffice" / "work.state").is_file()
    assert our_server.stored("alice") == []
