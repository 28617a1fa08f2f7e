"""Python's poplib (the standard library's POP3 client) against the server.

Compared: `retr()` returns the message's lines with CRLF removed and dot-stuffing undone;
joined with CRLF plus a final CRLF they must equal the message's wire form exactly.
"""

from __future__ import annotations

import poplib

import pytest

from harness import corpus, expect

#: Also against a node whose mail and accounts are in PostgreSQL (conftest.py): either store passes.
ALSO_ON_POSTGRESQL = True

TIMEOUT = 30


def joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def open_client(server, pki, mode: str) -> poplib.POP3:
    if mode == "pop3s":
        return poplib.POP3_SSL(server.host, server.pop3s_port, context=pki.client_context(), timeout=TIMEOUT)
    client = poplib.POP3(server.host, server.pop3_port, timeout=TIMEOUT)
    assert "STLS" in client.capa()
    client.stls(context=pki.client_context())
    return client


@pytest.mark.parametrize("mode", ["stls", "pop3s"])
def test_poplib_downloads_corpus_and_deletes_on_quit(server, pki, users, mode, monkeypatch):
    # poplib refuses lines longer than its _MAXLINE (2048 octets); the corpus has a 1 MB line.
    monkeypatch.setattr(poplib, "_MAXLINE", 2 * 1024 * 1024)
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    client = open_client(server, pki, mode)
    capabilities = client.capa()
    for name in ("USER", "UIDL", "TOP", "PIPELINING"):
        assert name in capabilities, capabilities
    assert "STLS" not in capabilities, "STLS must not be offered once TLS is active (RFC 2595 §4)"
    client.user("alice")
    client.pass_(users["alice"])
    count, total = client.stat()
    assert count == len(messages)
    _, listing, _ = client.list()
    sizes = {int(n): int(s) for n, s in (entry.split() for entry in listing)}
    assert total == sum(sizes.values())
    _, uidl_lines, _ = client.uidl()
    assert len({line.split()[1] for line in uidl_lines}) == count
    for number, message in enumerate(messages, 1):
        assert sizes[number] == expect.list_size(server.kind, message), message.name
        response, lines, _ = client.retr(number)
        assert response.startswith(b"+OK")
        assert joined(lines) == message.wire, message.name
        client.dele(number)
    assert client.quit().startswith(b"+OK")
    assert server.stored("alice") == []


def test_poplib_top_and_single_list_and_uidl(server, pki, users):
    message = corpus.plain_ascii()
    server.deliver("alice", message.data)
    client = open_client(server, pki, "pop3s")
    client.user("alice")
    client.pass_(users["alice"])
    header = message.wire.split(b"\r\n\r\n", 1)[0]
    _, lines, _ = client.top(1, 0)
    assert joined(lines) == header + b"\r\n\r\n"
    assert client.list(1) == b"+OK 1 %d" % len(message.wire)
    assert client.uidl(1).startswith(b"+OK 1 ")
    with pytest.raises(poplib.error_proto):
        client.retr(2)
    client.quit()
    assert len(server.stored("alice")) == 1


def test_poplib_socket_closed_without_quit_deletes_nothing(server, pki, users):
    messages = corpus.many_small(5)
    server.deliver_all("alice", messages)
    client = open_client(server, pki, "stls")
    client.user("alice")
    client.pass_(users["alice"])
    for number in range(1, 6):
        client.dele(number)
    client.close()  # no QUIT: the session never enters the UPDATE state (RFC 1939 §6)
    client = reconnect_when_unlocked(server, pki, users["alice"])
    assert client.stat()[0] == 5
    client.quit()
    assert len(server.stored("alice")) == 5


def test_poplib_rset_keeps_everything(server, pki, users):
    server.deliver_all("alice", corpus.many_small(4))
    client = open_client(server, pki, "pop3s")
    client.user("alice")
    client.pass_(users["alice"])
    client.dele(1)
    client.dele(2)
    assert client.stat()[0] == 2
    client.rset()
    assert client.stat()[0] == 4
    client.quit()
    assert len(server.stored("alice")) == 4


def test_poplib_wrong_password(server, pki, users):
    client = open_client(server, pki, "pop3s")
    client.user("alice")
    with pytest.raises(poplib.error_proto):
        client.pass_("wrong-" + users["alice"])
    client.close()


def test_poplib_many_small_messages(server, pki, users):
    messages = corpus.many_small(200)
    server.deliver_all("alice", messages)
    client = open_client(server, pki, "pop3s")
    client.user("alice")
    client.pass_(users["alice"])
    assert client.stat()[0] == 200
    received = {}
    for number in range(1, 201):
        data = joined(client.retr(number)[1])
        received[corpus.message_id(data)] = data
        client.dele(number)
    client.quit()
    assert received == {m.message_id: m.wire for m in messages}
    assert server.stored("alice") == []


def test_poplib_apop_is_refused_without_greeting_timestamp(server, pki, users):
    # Neither server stores reversible passwords here, so neither offers APOP (RFC 1939 §7):
    # the greeting carries no timestamp and an APOP command fails.
    client = open_client(server, pki, "pop3s")
    assert b"<" not in client.getwelcome()
    with pytest.raises(poplib.error_proto):
        client.apop("alice", users["alice"])
    client.close()


def reconnect_when_unlocked(server, pki, password, attempts=100) -> poplib.POP3:
    import time
    for _ in range(attempts):
        client = open_client(server, pki, "pop3s")
        client.user("alice")
        try:
            client.pass_(password)
            return client
        except poplib.error_proto as error:
            client.close()
            if b"IN-USE" not in str(error).encode():
                raise
            time.sleep(0.1)
    raise AssertionError("maildrop stayed locked")
