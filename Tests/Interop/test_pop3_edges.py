"""Edges of the protocol a real deployment meets: STLS command injection, oversized command
lines, and several clients of different users at the same time."""

from __future__ import annotations

import ssl
import threading
import time

import pytest

from harness import corpus
from harness.clients import Getmail, Mpop
from harness.compare import assert_saved_equal
from harness.pop3 import RawPOP3
from harness.servers import PostOfficeServer


def test_commands_pipelined_behind_stls_are_not_executed(server, pki, users):
    # RFC 2595 §4 / CVE-2011-0411 class: plaintext sent after STLS, before the handshake, must
    # not be executed inside the TLS session. Discarding it or dropping the connection are both
    # safe (Dovecot drops it during the handshake; PostOffice before answering STLS).
    client = RawPOP3(server.pop3_port)
    client.sock.sendall(b"STLS\r\nUSER alice\r\n")
    try:
        assert client.read_line().startswith(b"+OK")
        client.buffer = b""
        client.sock = pki.client_context().wrap_socket(client.sock, server_hostname=server.host)
        answer = client.command(f"PASS {users['alice']}")
    except (ssl.SSLError, ConnectionError, OSError):
        answer = None  # the server closed the connection
    finally:
        client.close()
    assert answer is None or answer.startswith(b"-ERR"), f"the injected USER was executed: {answer!r}"
    # A well-behaved STLS session still works.
    with RawPOP3(server.pop3_port) as clean:
        clean.stls(pki.client_context())
        clean.login("alice", users["alice"])
        clean.quit()


def test_an_oversized_command_line_is_refused_without_harm(server, pki, users):
    server.deliver("alice", corpus.plain_ascii().data)
    client = RawPOP3(server.pop3s_port, tls_context=pki.client_context(), timeout=10)
    client.login("alice", users["alice"])
    try:
        client.sock.sendall(b"NOOP " + b"x" * 100_000 + b"\r\n")
        answer = client.read_line()
        assert answer.startswith(b"-ERR"), answer
    except (ConnectionError, OSError):
        pass  # closing the connection is an acceptable answer too (RFC 2449 §4: 255 octets)
    client.abort()
    # Nothing was deleted, and the server still serves.
    for _ in range(100):
        other = RawPOP3(server.pop3s_port, tls_context=pki.client_context())
        other.ok("USER alice")
        answer = other.command(f"PASS {users['alice']}")
        if not answer.startswith(b"-ERR [IN-USE]"):
            break
        other.close()
        threading.Event().wait(0.1)
    assert answer.startswith(b"+OK"), answer
    assert other.ok("STAT").split()[1] == b"1"
    other.quit()


def test_two_users_fetched_by_different_clients_at_once(server, pki, users, client_dir):
    alice_mail = [m for m in corpus.standard() if m.name != "long-line"]
    bob_mail = corpus.many_small(50) + [corpus.big_attachment()]
    server.deliver_all("alice", alice_mail)
    server.deliver_all("bob", bob_mail)
    mpop = Mpop(client_dir / "alice", server, pki, "alice", users["alice"], mode="stls", keep=False)
    getmail = Getmail(client_dir / "bob", server, pki, "bob", users["bob"], keep=False)
    errors: list[BaseException] = []

    def run(client):
        try:
            client.run()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in (mpop, getmail)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a client did not finish in time"
    assert not errors, errors
    assert_saved_equal(alice_mail, mpop.saved(), client="mpop", line_end="lf", strip=("Received",))
    assert_saved_equal(bob_mail, getmail.saved(), client="getmail6", line_end="lf",
                       strip=("Return-Path", "Delivered-To", "Received"))
    assert server.stored("alice") == [] and server.stored("bob") == []


def test_a_silent_session_taken_over_from_another_process_is_closed_promptly(workdir, pki, users, postoffice_bin):
    """Two `serve` processes on one Maildir tree (two nodes on shared storage): a session that
    went silent on the first is taken over by a login on the second, and the first closes it
    within seconds, without waiting for its client to speak and without applying its DELE."""
    config = workdir / "takeover.toml"
    config.write_text("[server]\ntakeover_after = 1\n")
    first = PostOfficeServer(workdir / "first", pki, users, postoffice_bin, extra_args=["--config", str(config)])
    second = PostOfficeServer(workdir / "second", pki, users, postoffice_bin, extra_args=["--config", str(config)])
    second.maildir_template = first.maildir_template
    second.passwd_file = first.passwd_file
    for directory in (workdir / "first", workdir / "second"):
        directory.mkdir(exist_ok=True)
    user, password = next(iter(users.items()))
    try:
        first.start()
        second.start()
        first.deliver(user, b"Subject: kept\n\nstays on the server\n")
        silent = RawPOP3(first.pop3_port)
        silent.login(user, password)
        assert silent.command("DELE 1").startswith(b"+OK")
        # Nothing more from this client. Past takeover_after, a login on the other process
        # takes the maildrop over.
        time.sleep(1.5)
        newer = RawPOP3(second.pop3_port)
        newer.login(user, password)
        started = time.monotonic()
        assert silent.read_line() == b"-ERR [IN-USE] session taken over by a newer login\r\n"
        with pytest.raises(ConnectionError):
            silent.read_line()
        assert time.monotonic() - started < 5
        assert "session taken over while silent" in first.log_text()
        assert newer.quit().startswith(b"+OK")
        assert len(first.stored(user)) == 1, "the taken-over session's DELE was not applied"
    finally:
        second.stop()
        first.stop()
