"""curl's POP3 support against the server.

How curl is driven (curl's manual): a pop3[s] URL without a message number sends LIST; `/N`
sends RETR N; `--request UIDL` replaces LIST by UIDL; `--request DELE` on `/N` sends DELE N, and
`--head` (no body) makes curl expect DELE's single-line answer instead of waiting for a
multi-line one (without it curl hangs until its timeout). `--quote` is for FTP/SFTP only, so it
cannot send DELE. curl logs in with SASL (AUTH PLAIN) when the server offers it. `--ssl-reqd`
on a pop3:// URL means STLS, and failure if it cannot be negotiated.

Compared: curl writes RETR's data as received with the dot-stuffing undone and CRLF kept, so its
output must equal the message's wire form byte for byte; nothing is added or stripped.
"""

from __future__ import annotations

import pytest

from harness import corpus, expect, procs
from harness.servers import tool

#: Also against a node whose mail and accounts are in PostgreSQL (conftest.py): either store passes.
ALSO_ON_POSTGRESQL = True


def curl(server, pki, users, mode: str, path: str, *extra: str, check=True):
    if mode == "pop3s":
        url = f"pop3s://{server.host}:{server.pop3s_port}{path}"
        tls = []
    else:
        url = f"pop3://{server.host}:{server.pop3_port}{path}"
        tls = ["--ssl-reqd"]  # STLS, and fail if it cannot be negotiated
    argv = [tool("curl"), "--silent", "--show-error", "--max-time", "30", "--cacert", str(pki.ca_cert),
            *tls, "--user", f"alice:{users['alice']}", *extra, url]
    return procs.run(argv, check=check, timeout=60)


@pytest.mark.parametrize("mode", ["stls", "pop3s"])
def test_curl_list_uidl_retr_dele(server, pki, users, mode):
    messages = corpus.standard()
    server.deliver_all("alice", messages)

    listing = curl(server, pki, users, mode, "/").stdout
    expected_listing = b"".join(b"%d %d\r\n" % (n, expect.list_size(server.kind, m))
                                for n, m in enumerate(messages, 1))
    assert listing == expected_listing

    uidls = curl(server, pki, users, mode, "/", "--request", "UIDL").stdout.splitlines()
    assert [int(line.split()[0]) for line in uidls] == list(range(1, len(messages) + 1))
    assert len({line.split()[1] for line in uidls}) == len(messages)

    for number, message in enumerate(messages, 1):
        saved = curl(server, pki, users, mode, f"/{number}").stdout
        assert saved == message.wire, message.name
    assert len(server.stored("alice")) == len(messages), "RETR alone must not delete"

    # DELE 2 in one session (ended by QUIT), then the rest stay.
    result = curl(server, pki, users, mode, "/2", "--request", "DELE", "--head")
    assert result.stdout == b""
    remaining = sorted(corpus.message_id(data) for data in server.stored_contents("alice"))
    assert remaining == sorted(m.message_id for i, m in enumerate(messages, 1) if i != 2)
    assert curl(server, pki, users, mode, "/").stdout.count(b"\r\n") == len(messages) - 1


def test_curl_wrong_password_fails_and_changes_nothing(server, pki, users):
    server.deliver("alice", corpus.plain_ascii().data)
    users = dict(users, alice="wrong-password")
    result = curl(server, pki, users, "pop3s", "/1", "--request", "DELE", "--head", check=False)
    assert result.returncode == 67, procs.describe_result(result)  # CURLE_LOGIN_DENIED
    assert len(server.stored("alice")) == 1


def test_curl_refuses_a_server_certificate_it_cannot_verify(server, pki, users, other_pki):
    server.deliver("alice", corpus.plain_ascii().data)
    other_ca = other_pki.ca_cert  # a CA that did not sign the server's certificate
    argv = [tool("curl"), "--silent", "--show-error", "--max-time", "30", "--cacert", str(other_ca),
            "--user", f"alice:{users['alice']}", f"pop3s://{server.host}:{server.pop3s_port}/1"]
    result = procs.run(argv, check=False, timeout=60)
    assert result.returncode == 60, procs.describe_result(result)  # CURLE_PEER_FAILED_VERIFICATION
