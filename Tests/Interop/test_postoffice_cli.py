"""The `postoffice user` and `postoffice deliver` contracts, checked against Dovecot's formats:
a passwd-file written by `postoffice user add` works in Dovecot, hashes made by Dovecot's
`doveadm pw` (and mkpasswd) work in `postoffice serve`, and delivered files are named and sized
the way Dovecot reads Maildirs."""

from __future__ import annotations

import poplib
import re

import pytest

from harness import corpus, procs
from harness.servers import DovecotServer, PostOfficeServer, add_user, tool

PASSWORD = "sécret pw-1"  # non-ASCII and a space, as people choose them


def login(server, pki, user, password) -> poplib.POP3_SSL:
    client = poplib.POP3_SSL(server.host, server.pop3s_port, context=pki.client_context(), timeout=30)
    client.user(user)
    client.pass_(password)
    return client


def test_user_add_writes_a_passwd_file_dovecot_accepts(postoffice_bin, workdir, pki):
    passwd = workdir / "passwd"
    add_user(postoffice_bin, passwd, "alice", PASSWORD)
    add_user(postoffice_bin, passwd, "bob", "other-password")
    lines = passwd.read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["alice", "bob"]
    for line in lines:
        assert re.match(r"^[a-z]+:\{[A-Z0-9-]+\}\S+", line), "Dovecot passwd-file: user:{SCHEME}hash"
        assert PASSWORD not in line
    # Dovecot's own password check agrees.
    alice_hash = lines[0].split(":")[1]
    procs.run([tool("doveadm"), "-O", "pw", "-t", alice_hash, "-p", PASSWORD])
    directory = workdir / "dovecot"
    directory.mkdir(mode=0o755)
    server = DovecotServer(directory, pki, {}, passwd_text=passwd.read_text())
    try:
        server.start()
        login(server, pki, "alice", PASSWORD).quit()
        login(server, pki, "bob", "other-password").quit()
        with pytest.raises(poplib.error_proto):
            login(server, pki, "alice", "other-password")
    finally:
        server.stop()


HASHES = {
    "PLAIN": lambda p: ["doveadm", "-O", "pw", "-s", "PLAIN", "-p", p],
    "SHA512-CRYPT": lambda p: ["doveadm", "-O", "pw", "-s", "SHA512-CRYPT", "-p", p],
    "SHA256-CRYPT": lambda p: ["doveadm", "-O", "pw", "-s", "SHA256-CRYPT", "-p", p],
    "BLF-CRYPT": lambda p: ["doveadm", "-O", "pw", "-s", "BLF-CRYPT", "-p", p],
    "SSHA": lambda p: ["doveadm", "-O", "pw", "-s", "SSHA", "-p", p],
    "SSHA512": lambda p: ["doveadm", "-O", "pw", "-s", "SSHA512", "-p", p],
    "CRYPT-yescrypt": lambda p: ["mkpasswd", "-m", "yescrypt", p],
}


@pytest.mark.parametrize("scheme", sorted(HASHES))
def test_serve_accepts_hashes_made_by_dovecot_tools(postoffice_bin, workdir, pki, scheme):
    made = procs.run(HASHES[scheme](PASSWORD)).stdout.decode().strip()
    stored = made if made.startswith("{") else "{CRYPT}" + made
    directory = workdir / "postoffice"
    directory.mkdir(mode=0o755)
    server = PostOfficeServer(directory, pki, {}, postoffice_bin, passwd_text=f"alice:{stored}\n")
    try:
        server.start()
        server.deliver("alice", corpus.plain_ascii().data)
        client = login(server, pki, "alice", PASSWORD)
        assert client.stat()[0] == 1
        client.quit()
        with pytest.raises(poplib.error_proto):
            login(server, pki, "alice", PASSWORD + "x")
    finally:
        server.stop()


def test_deliver_names_files_like_dovecot(postoffice_bin, workdir, pki, users):
    directory = workdir / "postoffice"
    directory.mkdir(mode=0o755)
    server = PostOfficeServer(directory, pki, users, postoffice_bin)
    messages = corpus.standard()
    for message in messages:
        server.deliver("alice", message.data)  # offline: the server is not running
    new = server.maildir("alice") / "new"
    files = sorted(new.iterdir())
    assert len(files) == len(messages)
    by_id = {corpus.message_id(path.read_bytes()): path for path in files}
    for message in messages:
        path = by_id[message.message_id]
        stored = path.read_bytes()
        assert corpus.wire_form(stored) == message.wire, f"{message.name}: content changed by delivery"
        size = re.search(r",S=(\d+)", path.name)
        virtual = re.search(r",W=(\d+)", path.name)
        assert size and virtual, path.name
        assert int(size.group(1)) == len(stored), f"{message.name}: S= is not the file size"
        # W= is the size with CRLF line ends (what Dovecot's LIST reports for the file); for a
        # last line without line end it may include the CRLF the server adds when sending.
        crlf_size = len(stored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        allowed = {crlf_size} if stored.endswith(b"\n") else {crlf_size, crlf_size + 2}
        assert int(virtual.group(1)) in allowed, f"{message.name}: W= {virtual.group(1)}, expected {allowed}"
    assert list((server.maildir("alice") / "tmp").iterdir()) == []


def test_dovecot_serves_mail_delivered_by_postoffice(postoffice_bin, workdir, pki, users, monkeypatch):
    """A Maildir written by `postoffice deliver` is read by Dovecot as the same messages."""
    directory = workdir / "shared"
    directory.mkdir(mode=0o755)
    writer = PostOfficeServer(directory, pki, users, postoffice_bin)
    messages = corpus.standard()
    writer.deliver_all("alice", messages)
    server = DovecotServer(directory, pki, users)
    try:
        server.start()
        client = login(server, pki, "alice", users["alice"])
        monkeypatch.setattr(poplib, "_MAXLINE", 2 * 1024 * 1024)  # the corpus has a 1 MB line
        received = {}
        for number in range(1, client.stat()[0] + 1):
            data = b"".join(line + b"\r\n" for line in client.retr(number)[1])
            received[corpus.message_id(data)] = data
        client.quit()
        assert received == {m.message_id: m.wire for m in messages}
    finally:
        server.stop()


def test_serve_announces_listeners_and_stops_cleanly_on_sigterm(postoffice_bin, workdir, pki, users):
    directory = workdir / "postoffice"
    directory.mkdir(mode=0o755)
    server = PostOfficeServer(directory, pki, users, postoffice_bin)
    server.start()
    try:
        client = login(server, pki, "alice", users["alice"])
        client.quit()
    finally:
        status = server.stop()
    log = server.log_text()
    assert f"listening on 127.0.0.1:{server.pop3_port} (pop3, STLS)" in log, log
    assert f"listening on 127.0.0.1:{server.pop3s_port} (pop3s)" in log, log
    assert status == 0, f"exit status {status} after SIGTERM\n{log}"
    assert users["alice"] not in log, "a password reached the log"
