"""The server's wire behaviour, read with a raw socket client that keeps every byte."""

from __future__ import annotations

import base64
import time

import pytest

from harness import corpus, expect
from harness.pop3 import RawPOP3

#: Also against a node whose mail and accounts are in PostgreSQL (conftest.py): either store passes.
ALSO_ON_POSTGRESQL = True


def connect(server, pki, mode: str) -> RawPOP3:
    if mode == "pop3s":
        return RawPOP3(server.pop3s_port, tls_context=pki.client_context())
    client = RawPOP3(server.pop3_port)
    client.stls(pki.client_context())
    return client


@pytest.mark.parametrize("mode", ["stls", "pop3s"])
def test_retr_sends_each_stored_message_byte_for_byte(server, pki, users, mode):
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    with connect(server, pki, mode) as client:
        assert client.greeting.startswith(b"+OK")
        client.login("alice", users["alice"])
        status = client.ok("STAT")
        listing = client.listing()
        assert sorted(listing) == list(range(1, len(messages) + 1))
        # Delivery order is message order for both servers (Maildir names sort by time).
        for number, message in enumerate(messages, 1):
            assert listing[number] == expect.list_size(server.kind, message), message.name
            assert client.retr(number) == message.wire, message.name
        assert status == b"+OK %d %d" % (len(messages), sum(listing.values()))
        assert client.quit().startswith(b"+OK")
    assert len(server.stored("alice")) == len(messages), "RETR and QUIT must not delete"


def test_uidl_is_unique_and_stable_across_sessions(server, pki, users):
    server.deliver_all("alice", corpus.standard()[:6])
    seen = []
    for _ in range(2):
        with connect(server, pki, "pop3s") as client:
            client.login("alice", users["alice"])
            uidls = client.uidls()
            assert sorted(uidls) == list(range(1, 7))
            for uid in uidls.values():
                assert 1 <= len(uid) <= 70 and all(0x21 <= c <= 0x7E for c in uid)  # RFC 1939 §7
            assert len(set(uidls.values())) == 6
            single = client.ok("UIDL 3")
            assert single == b"+OK 3 " + uidls[3]
            seen.append(uidls)
            client.quit()
    assert seen[0] == seen[1]


def test_top_sends_header_and_requested_body_lines(server, pki, users):
    message = corpus.leading_dots()
    server.deliver("alice", message.data)
    header, body = message.wire.split(b"\r\n\r\n", 1)
    with connect(server, pki, "pop3s") as client:
        client.login("alice", users["alice"])
        assert client.multiline("TOP 1 0")[1] == header + b"\r\n\r\n"
        first_three = b"".join(line + b"\r\n" for line in body.split(b"\r\n")[:3])
        assert client.multiline("TOP 1 3")[1] == header + b"\r\n\r\n" + first_three
        assert client.multiline("TOP 1 1000")[1] == message.wire
        client.quit()


def test_dele_then_quit_removes_only_deleted_messages(server, pki, users):
    messages = corpus.standard()[:5]
    server.deliver_all("alice", messages)
    with connect(server, pki, "stls") as client:
        client.login("alice", users["alice"])
        client.ok("DELE 2")
        client.ok("DELE 4")
        assert client.command("RETR 2").startswith(b"-ERR")
        assert client.command("DELE 2").startswith(b"-ERR")
        assert sorted(client.listing()) == [1, 3, 5]
        assert client.ok("STAT").split()[1] == b"3"
        assert client.quit().startswith(b"+OK")
    remaining = sorted(corpus.message_id(data) for data in server.stored_contents("alice"))
    assert remaining == sorted(messages[i].message_id for i in (0, 2, 4))


def test_dropped_connection_deletes_nothing(server, pki, users):
    messages = corpus.standard()[:4]
    server.deliver_all("alice", messages)
    client = connect(server, pki, "pop3s")
    client.login("alice", users["alice"])
    for number in range(1, 5):
        client.ok(f"DELE {number}")
    client.abort()
    # A new session sees every message once the server has released the old one's lock.
    with login_when_free(server, pki, "alice", users["alice"]) as again:
        assert again.ok("STAT").split()[1] == b"4"
        again.quit()
    assert len(server.stored("alice")) == 4


def test_rset_unmarks_deletions(server, pki, users):
    server.deliver_all("alice", corpus.standard()[:3])
    with connect(server, pki, "pop3s") as client:
        client.login("alice", users["alice"])
        client.ok("DELE 1")
        client.ok("DELE 3")
        client.ok("RSET")
        assert sorted(client.listing()) == [1, 2, 3]
        client.quit()
    assert len(server.stored("alice")) == 3


def test_second_session_for_a_locked_maildrop_is_refused(server, pki, users):
    server.deliver_all("alice", corpus.standard()[:2])
    with connect(server, pki, "pop3s") as first:
        first.login("alice", users["alice"])
        with connect(server, pki, "pop3s") as second:
            second.ok("USER alice")
            answer = second.command(f"PASS {users['alice']}")
            assert answer.startswith(b"-ERR [IN-USE]"), answer  # RFC 2449 §8.1.2
        assert first.ok("STAT").split()[1] == b"2"
        first.ok("DELE 1")
        first.quit()
    assert len(server.stored("alice")) == 1


def test_pipelined_commands_are_answered_in_order(server, pki, users):
    messages = corpus.many_small(10)
    server.deliver_all("alice", messages)
    with connect(server, pki, "pop3s") as client:
        client.login("alice", users["alice"])
        capabilities = client.multiline("CAPA")[1].split(b"\r\n")
        assert b"PIPELINING" in capabilities
        # What each command answers when sent alone.
        commands = []
        for i in range(50):
            number = i % 10 + 1
            commands.append(["STAT", f"LIST {number}", f"UIDL {number}", "NOOP", f"RETR {number}"][i % 5])
        multiline = {c for c in commands if c.startswith("RETR")}
        alone = {}
        for command in dict.fromkeys(commands):
            alone[command] = client.multiline(command) if command in multiline else (client.ok(command), None)
        # The same 50 commands in one write (RFC 2449 §6.6).
        client.sock.sendall(b"".join(c.encode() + b"\r\n" for c in commands))
        for command in commands:
            status = client.read_line()[:-2]
            data = client.unstuff(client.read_multiline_raw()) if command in multiline else None
            assert (status, data) == alone[command], command
        client.quit()


def test_auth_plain_with_and_without_initial_response(server, pki, users):
    password = users["alice"]
    token = base64.b64encode(b"\0alice\0" + password.encode()).decode()
    with connect(server, pki, "stls") as client:
        capabilities = client.multiline("CAPA")[1].split(b"\r\n")
        sasl = next(line for line in capabilities if line.startswith(b"SASL "))
        assert b"PLAIN" in sasl.split()
        client.ok(f"AUTH PLAIN {token}")  # RFC 5034 §4, initial response
        assert client.ok("STAT").startswith(b"+OK 0")
        client.quit()
    with connect(server, pki, "pop3s") as client:
        assert client.command("AUTH PLAIN") == b"+ "
        client.ok(token)
        client.quit()
    with connect(server, pki, "pop3s") as client:
        wrong = base64.b64encode(b"\0alice\0wrong-password").decode()
        assert client.command(f"AUTH PLAIN {wrong}").startswith(b"-ERR")
        client.ok(f"AUTH PLAIN {token}")
        client.quit()


def test_wrong_password_is_refused_and_right_one_then_works(server, pki, users):
    with connect(server, pki, "pop3s") as client:
        client.ok("USER alice")
        assert client.command("PASS not-the-password").startswith(b"-ERR")
        assert client.command("STAT").startswith(b"-ERR")
        client.login("alice", users["alice"])
        client.quit()
    with connect(server, pki, "pop3s") as client:
        client.ok("USER nobody-here")
        assert client.command("PASS whatever").startswith(b"-ERR")


def test_users_see_only_their_own_mail(server, pki, users):
    server.deliver("alice", corpus.plain_ascii().data)
    server.deliver_all("bob", corpus.many_small(3))
    with connect(server, pki, "pop3s") as client:
        client.login("bob", users["bob"])
        assert client.ok("STAT").split()[1] == b"3"
        assert client.retr(1) == corpus.small(0).wire
        client.quit()


def login_when_free(server, pki, user, password, timeout=10.0) -> RawPOP3:
    """Logs in, retrying while the server still holds a dropped session's lock ([IN-USE])."""
    deadline = time.monotonic() + timeout
    while True:
        client = connect(server, pki, "pop3s")
        client.ok(f"USER {user}")
        answer = client.command(f"PASS {password}")
        if answer.startswith(b"+OK"):
            return client
        client.close()
        if not answer.startswith(b"-ERR [IN-USE]") or time.monotonic() > deadline:
            raise AssertionError(f"login failed: {answer!r}")
        time.sleep(0.1)
