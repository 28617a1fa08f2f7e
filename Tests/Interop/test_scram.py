"""SASL SCRAM-SHA-256 (RFC 7677) across implementations: mpop (GNU SASL) and `postoffice fetch`
log in with SCRAM to Dovecot (keys from `doveadm pw -s SCRAM-SHA-256`) and to `postoffice serve`
(keys from `postoffice user add --scheme SCRAM-SHA-256`)."""

from __future__ import annotations

import secrets

import pytest

from harness import corpus, procs
from harness.clients import Mpop
from harness.compare import assert_saved_equal, maildir_messages
from harness.pop3 import RawPOP3
from harness.servers import DovecotServer, PostOfficeServer, add_user, tool

MESSAGES = [corpus.plain_ascii(), corpus.utf8_body(), corpus.lone_dot(), corpus.nul_byte()]


@pytest.fixture(params=["dovecot", "postoffice"])
def scram_server(request, workdir, pki):
    password = "scram-" + secrets.token_hex(6)
    directory = workdir / "server"
    directory.mkdir(mode=0o755)
    if request.param == "dovecot":
        keys = procs.run([tool("doveadm"), "-O", "pw", "-s", "SCRAM-SHA-256", "-p", password]).stdout.decode().strip()
        server = DovecotServer(directory, pki, {"alice": password}, passwd_text=f"alice:{keys}\n",
                               mechanisms="plain login scram-sha-256")
    else:
        binary = request.getfixturevalue("postoffice_bin")
        add_user(binary, directory / "passwd", "alice", password, scheme="SCRAM-SHA-256")
        server = PostOfficeServer(directory, pki, {"alice": password}, binary,
                                  passwd_text=(directory / "passwd").read_text())
    try:
        server.start()
        server.deliver_all("alice", MESSAGES)
        yield server
    finally:
        server.stop()


def test_scram_is_offered(scram_server, pki):
    with RawPOP3(scram_server.pop3s_port, tls_context=pki.client_context()) as client:
        capabilities = client.multiline("CAPA")[1].split(b"\r\n")
        sasl = next(line for line in capabilities if line.startswith(b"SASL "))
        assert b"SCRAM-SHA-256" in sasl.split()


def test_mpop_logs_in_with_scram(scram_server, pki, client_dir):
    mpop = Mpop(client_dir, scram_server, pki, "alice", scram_server.users["alice"], mode="pop3s",
                keep=False, auth="scram-sha-256")
    mpop.run()
    assert_saved_equal(MESSAGES, mpop.saved(), client="mpop", line_end="lf", strip=("Received",))
    assert scram_server.stored("alice") == []


def test_mpop_scram_with_a_wrong_password_fails(scram_server, pki, client_dir):
    mpop = Mpop(client_dir, scram_server, pki, "alice", "wrong-password", mode="pop3s", keep=False,
                auth="scram-sha-256")
    mpop.run(check_codes=(77,))
    assert mpop.saved() == []
    assert len(scram_server.stored("alice")) == len(MESSAGES)


def test_postoffice_fetch_logs_in_with_scram(scram_server, pki, client_dir, postoffice_bin):
    password_file = client_dir / "password"
    password_file.write_text(scram_server.users["alice"] + "\n")
    password_file.chmod(0o600)
    maildir = client_dir / "Maildir"
    procs.run([str(postoffice_bin), "fetch", "--host", scram_server.host, "--port", str(scram_server.pop3_port),
               "--tls", "starttls", "--user", "alice", "--password-file", str(password_file),
               "--auth", "scram-sha-256", "--to", f"maildir:{maildir}", "--state", str(client_dir / "state"),
               "--ca-file", str(pki.ca_cert)], timeout=procs.CLIENT_RUN_TIMEOUT)
    assert_saved_equal(MESSAGES, maildir_messages(maildir), client="postoffice fetch", line_end="lf",
                       strip=("Received", "X-PostOffice-UIDL"))
    assert scram_server.stored("alice") == []
