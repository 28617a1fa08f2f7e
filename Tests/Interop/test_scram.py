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


# -- the client's cap on the work a server may ask for ---------------------------------------

class GreedySCRAMServer:
    """A POP3 server that offers SCRAM-SHA-256 and asks for `iterations` PBKDF2 rounds (RFC 5802
    §5.1 `i`): 10,000,000 would cost the client seconds of CPU per login."""

    def __init__(self, iterations: int) -> None:
        import socket
        import threading
        self.iterations = iterations
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((procs.HOST, 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.challenged = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        import base64
        self.listener.settimeout(30)
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection, connection.makefile("rwb", buffering=0) as stream:
            stream.write(b"+OK ready\r\n")
            for line in stream:
                command = line.strip().split(b" ")
                if command[0].upper() == b"CAPA":
                    stream.write(b"+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n")
                elif command[0].upper() == b"AUTH":
                    initial = command[2] if len(command) > 2 else None
                    if initial is None:
                        stream.write(b"+ \r\n")
                        initial = stream.readline().strip()
                    client_first = base64.b64decode(initial).decode()
                    nonce = client_first.split("r=", 1)[1]
                    first = f"r={nonce}greedy,s={base64.b64encode(b'salty').decode()},i={self.iterations}"
                    stream.write(b"+ " + base64.b64encode(first.encode()) + b"\r\n")
                    self.challenged.set()
                else:
                    stream.write(b"-ERR no\r\n")

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


def fetch_scram(binary, client_dir, port: int, *options: str, host: str = procs.HOST, tls: str = "none",
                pki=None):
    password_file = client_dir / "password"
    password_file.write_text("secret\n")
    password_file.chmod(0o600)
    trust = ["--ca-file", str(pki.ca_cert)] if pki else []
    return procs.run([str(binary), "fetch", "--host", host, "--port", str(port), "--tls", tls, "--user", "alice",
                      "--password-file", str(password_file), "--auth", "scram-sha-256",
                      "--to", f"maildir:{client_dir / 'Maildir'}", "--state", str(client_dir / "state"),
                      *trust, *options], check=False, timeout=procs.CLIENT_RUN_TIMEOUT)


def test_postoffice_fetch_refuses_ten_million_iterations_with_the_authentication_code(client_dir, postoffice_bin):
    import time
    server = GreedySCRAMServer(10_000_000)
    try:
        started = time.monotonic()
        result = fetch_scram(postoffice_bin, client_dir, server.port)
        elapsed = time.monotonic() - started
        assert server.challenged.is_set(), procs.describe_result(result)
        assert result.returncode == 77, procs.describe_result(result)  # authentication, not 69 (network)
        text = result.stderr.decode("utf-8", "replace")
        assert "10000000" in text and "100000" in text and "scram_max_iterations" in text, text
        assert elapsed < 10, f"the refusal took {elapsed:.1f} s"
    finally:
        server.close()


def test_postoffice_fetch_scram_cap_is_configurable(scram_server, pki, client_dir, postoffice_bin):
    """Both servers ask for 4096 iterations: a cap of 1000 (flag or config key) refuses them."""
    result = fetch_scram(postoffice_bin, client_dir, scram_server.pop3_port, "--scram-max-iterations", "1000",
                         host=scram_server.host, tls="starttls", pki=pki)
    assert result.returncode == 77, procs.describe_result(result)
    assert "4096" in result.stderr.decode("utf-8", "replace")
    assert len(scram_server.stored("alice")) == len(MESSAGES)
    config = client_dir / "fetch.toml"
    password_file = client_dir / "password"
    password_file.write_text(scram_server.users["alice"] + "\n")
    config.write_text(f"""
[[account]]
name = "capped"
host = "{scram_server.host}"
port = {scram_server.pop3_port}
tls = "starttls"
user = "alice"
auth = "scram-sha-256"
password_file = "{password_file}"
ca_file = "{pki.ca_cert}"
to = "maildir:{client_dir / 'Maildir'}"
state = "{client_dir / 'capped.state'}"
scram_max_iterations = 1000
""")
    capped = procs.run([str(postoffice_bin), "fetch", "--config", str(config)], check=False,
                       timeout=procs.CLIENT_RUN_TIMEOUT)
    assert capped.returncode == 77, procs.describe_result(capped)
    config.write_text(config.read_text().replace("scram_max_iterations = 1000", "scram_max_iterations = 4096"))
    allowed = procs.run([str(postoffice_bin), "fetch", "--config", str(config)], check=False,
                        timeout=procs.CLIENT_RUN_TIMEOUT)
    assert allowed.returncode == 0, procs.describe_result(allowed)
    assert scram_server.stored("alice") == []
