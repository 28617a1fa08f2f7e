"""Mail in through a real Postfix over LMTP, out through POP3 (issue 9, part 1).

Debian's Postfix runs on loopback with its own configuration, queue and data directories
(`harness/postfix.py`) and hands mail for `example.org` to `postoffice serve --lmtp`, over a
Unix socket (`lmtp:unix:/path`) and over TCP (`lmtp:inet:127.0.0.1:PORT`). swaks submits the
messages over SMTP; Python's poplib downloads them from the same `serve` over STLS. Postfix's
own log says what the LMTP server answered (`dsn=`, `status=`).
"""

from __future__ import annotations

import contextlib
import os
import poplib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness import procs
from harness.postfix import PostfixInstance
from harness.servers import PostOfficeServer, tool

TRANSPORTS = ["unix", "inet"]
TIMEOUT = 30


class LMTPSite:
    """`postoffice serve` with POP3 and LMTP listeners, and a Postfix in front of it."""

    def __init__(self, workdir: Path, pki, users: dict[str, str], binary: Path, transport: str, *,
                 lmtp_max_message_size: int | None = None, verify_recipients: bool = False) -> None:
        # Unix socket paths are limited to 107 bytes: keep this one short.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="lmtp-", dir="/tmp"))
        self.socket_dir.chmod(0o755)
        if transport == "unix":
            self.socket_path = self.socket_dir / "lmtp.sock"
            lmtp_listener = f"unix:{self.socket_path}"
            postfix_transport = lmtp_listener
            self.lmtp_port = None
        else:
            self.socket_path = None
            self.lmtp_port = procs.free_port()
            lmtp_listener = f"{procs.HOST}:{self.lmtp_port}"
            postfix_transport = f"inet:{lmtp_listener}"
        server_dir = workdir / "server"
        server_dir.mkdir(mode=0o755)
        extra = ["--lmtp", lmtp_listener]
        if lmtp_max_message_size is not None:
            config = server_dir / "postoffice.toml"
            config.write_text(f"[server]\nlmtp_max_message_size = {lmtp_max_message_size}\n")
            extra += ["--config", str(config)]
        self.server = PostOfficeServer(server_dir, pki, users, binary, extra_args=extra)
        self.postfix = PostfixInstance(postfix_transport, verify_recipients=verify_recipients)
        self.pki = pki
        self.users = users

    def start(self) -> None:
        self.server.start()
        self.wait_for_lmtp()
        self.postfix.start()

    def wait_for_lmtp(self) -> None:
        if self.lmtp_port is not None:
            procs.wait_for_port(self.lmtp_port, process=self.server.process.process, describe=self.server.log_text)
            return
        deadline = time.monotonic() + procs.DEFAULT_TIMEOUT
        while True:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(self.socket_path))
                return
            if self.server.process.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"LMTP socket {self.socket_path} did not open\n{self.server.log_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        try:
            self.postfix.stop()
        finally:
            status = self.server.stop()
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            assert status == 0, f"serve exited with {status}\n{self.server.log_text()}"

    def wait_for_mail(self, user: str, count: int = 1) -> list[bytes]:
        """Waits until `user`'s Maildir holds `count` messages; returns their contents."""
        deadline = time.monotonic() + TIMEOUT
        while len(self.server.stored(user)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user} has {len(self.server.stored(user))} of {count} messages\n"
                                   f"{self.postfix.log_text()}\n{self.server.log_text()}")
            time.sleep(0.1)
        return self.server.stored_contents(user)

    def pop3(self, user: str) -> poplib.POP3:
        client = poplib.POP3(self.server.host, self.server.pop3_port, timeout=TIMEOUT)
        client.stls(context=self.pki.client_context())
        client.user(user)
        client.pass_(self.users[user])
        return client


@pytest.fixture
def site_factory(workdir, pki, postoffice_bin):
    sites: list[LMTPSite] = []

    def make(transport: str, users: dict[str, str], **options) -> LMTPSite:
        site = LMTPSite(workdir, pki, users, postoffice_bin, transport, **options)
        sites.append(site)
        site.start()
        return site

    yield make
    for site in sites:
        site.stop()


@pytest.fixture
def lmtp_users(users):
    # A user named by a whole address: mail to it goes to that account, not to "carol".
    return {**users, "carol@example.org": "pw-carol"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_postfix_delivers_over_lmtp_and_poplib_downloads(site_factory, lmtp_users, transport):
    site = site_factory(transport, lmtp_users)
    site.postfix.send(sender="sender@sender.test", recipients=["alice@example.org"],
                      subject="through postfix", body="Hello Alice,\n.leading dot\n\nbye")
    [stored] = site.wait_for_mail("alice")
    # Dovecot's LMTP trace fields, first, with LF line ends as Maildir files have them.
    assert stored.startswith(b"Return-Path: <sender@sender.test>\nDelivered-To: alice@example.org\n"), stored
    assert b"\r\n" not in stored
    [delivery] = site.postfix.wait_for_delivery("alice@example.org", "sent")
    assert delivery["dsn"] == "2.0.0"
    assert "250 2.0.0 <alice@example.org> Saved" in delivery["reply"]
    if transport == "unix":
        assert delivery["relay"].endswith(f"[{site.socket_path}]"), delivery
    else:
        assert delivery["relay"] == f"127.0.0.1[127.0.0.1]:{site.lmtp_port}", delivery

    client = site.pop3("alice")
    assert client.stat()[0] == 1
    _, lines, octets = client.retr(1)
    text = b"\r\n".join(lines)
    assert lines[0] == b"Return-Path: <sender@sender.test>"
    assert b"Subject: through postfix" in text
    # Dot-stuffed by swaks, unstuffed by us, stuffed by POP3, unstuffed by poplib.
    assert b"Hello Alice,\r\n.leading dot\r\n\r\nbye" in text
    client.dele(1)
    assert client.quit().startswith(b"+OK")
    assert site.server.stored("alice") == []
    assert "delivered user=alice to=<alice@example.org> from=<sender@sender.test>" in site.server.log_text()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_one_message_for_several_users_is_stored_once_for_each(site_factory, lmtp_users, transport):
    site = site_factory(transport, lmtp_users)
    recipients = ["alice@example.org", "bob@example.org", "carol@example.org"]
    site.postfix.send(sender="sender@sender.test", recipients=recipients, subject="to three", body="shared")
    for user, address in (("alice", recipients[0]), ("bob", recipients[1]), ("carol@example.org", recipients[2])):
        [stored] = site.wait_for_mail(user)
        assert stored.startswith(b"Return-Path: <sender@sender.test>\nDelivered-To: " + address.encode() + b"\n")
        assert b"\n\nshared\n" in stored, stored
        [delivery] = site.postfix.wait_for_delivery(address, "sent")
        assert f"250 2.0.0 <{address}> Saved" in delivery["reply"]
    # Each user's copy is its own file (not a link to a shared one).
    inodes = {os.stat(site.server.stored(user)[0]).st_ino for user in ("alice", "bob", "carol@example.org")}
    assert len(inodes) == 3
    assert not site.server.maildir("carol").exists()
    for user in ("alice", "bob"):
        client = site.pop3(user)
        assert client.stat()[0] == 1
        assert b"shared" in b"\r\n".join(client.retr(1)[1])
        client.quit()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_user_is_refused_at_rcpt_and_bounced(site_factory, lmtp_users, transport):
    site = site_factory(transport, lmtp_users)
    # From bob, so Postfix's bounce comes back to bob's mailbox through the same LMTP listener.
    site.postfix.send(sender="bob@example.org", recipients=["nobody@example.org", "alice@example.org"],
                      subject="one of two", body="x")
    [refused] = site.postfix.wait_for_delivery("nobody@example.org", "bounced")
    assert refused["dsn"] == "5.1.1"
    assert "550 5.1.1 <nobody@example.org> User unknown (in reply to RCPT TO command)" in refused["reply"]
    site.wait_for_mail("alice")
    [bounce] = site.wait_for_mail("bob")
    assert b"Return-Path: <>\n" in bounce
    assert b"nobody@example.org" in bounce and b"550 5.1.1" in bounce
    assert "recipient unknown to=<nobody@example.org>" in site.server.log_text()


def test_postfix_address_verification_asks_the_lmtp_server(site_factory, lmtp_users):
    """docs/OPERATIONS.md's advice against backscatter: with `reject_unverified_recipient`,
    Postfix probes each recipient over LMTP (MAIL, RCPT, no DATA) and refuses unknown ones while
    the SMTP client is still connected."""
    site = site_factory("unix", lmtp_users, verify_recipients=True)
    deadline = time.monotonic() + TIMEOUT
    while True:
        # The first attempt may meet "450 ... verification in progress"; the probe's result is
        # cached for the next.
        transcript = site.postfix.send(sender="sender@sender.test", recipients=["nobody@example.org"],
                                       subject="probe", body="x", check=False)
        if "<** 550 5.1.1 <nobody@example.org>: Recipient address rejected" in transcript:
            break
        assert "<** 450 4.1.1" in transcript, transcript
        assert time.monotonic() < deadline, transcript
        time.sleep(0.5)
    assert "undeliverable address: host" in transcript and "550 5.1.1 <nobody@example.org> User unknown" in transcript
    deadline = time.monotonic() + TIMEOUT
    while True:
        transcript = site.postfix.send(sender="sender@sender.test", recipients=["alice@example.org"],
                                       subject="ok", body="y", check=False)
        if "queued as" in transcript:
            break
        assert "<** 450 4.1.1" in transcript and time.monotonic() < deadline, transcript
        time.sleep(0.5)
    site.wait_for_mail("alice")
    # The probes left nothing behind: only real messages were stored, nothing for "nobody".
    assert not site.server.maildir("nobody").exists()
    assert "recipient unknown to=<nobody@example.org>" in site.server.log_text()


def test_message_over_the_size_limit_is_refused(site_factory, lmtp_users):
    site = site_factory("unix", lmtp_users, lmtp_max_message_size=20_000)
    site.postfix.send(sender="sender@sender.test", recipients=["alice@example.org"], subject="big",
                      body="z" * 70 + ("\n" + "z" * 70) * 400)
    [refused] = site.postfix.wait_for_delivery("alice@example.org", "bounced")
    # Postfix reads SIZE from our LHLO reply and does not even send the message (RFC 1870).
    assert refused["dsn"] == "5.3.4", refused
    assert "exceeds size limit 20000" in refused["reply"], refused
    # The DATA-phase limit, for a client that ignores SIZE: swaks speaking LMTP directly.
    result = procs.run([tool("swaks"), "--protocol", "LMTP", "--socket", str(site.socket_path),
                        "--from", "s@x", "--to", "alice@example.org", "--body", "y" * 30_000,
                        "--timeout", "30"], timeout=60, check=False)
    transcript = result.stdout.decode("utf-8", "replace")
    assert "<** 552 5.3.4 <alice@example.org> Message exceeds the size limit" in transcript, transcript
    small = procs.run([tool("swaks"), "--protocol", "LMTP", "--socket", str(site.socket_path),
                       "--from", "s@x", "--to", "alice@example.org", "--body", "small", "--timeout", "30"],
                      timeout=60)
    assert "250 2.0.0 <alice@example.org> Saved" in small.stdout.decode()
    assert len(site.wait_for_mail("alice")) == 1


@contextlib.contextmanager
def unwritable_maildir(maildir: Path):
    """Makes delivery into `maildir` fail until the block ends: a 16 KiB tmpfs mounted on it when
    we are root and may mount (a full disk: ENOSPC), otherwise the directory made read-only for
    us (EACCES). Yields the errno name the server meets."""
    maildir.mkdir(parents=True, exist_ok=True)
    if procs.is_root():
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0755", "tmpfs", str(maildir)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if mounted.returncode == 0:
            try:
                yield "ENOSPC"
            finally:
                subprocess.run(["umount", str(maildir)], check=True, timeout=30)
            return
        # Root without mount rights: the root-proof way is a path component that is a file.
        for sub in ("new", "cur"):
            (maildir / sub).mkdir(exist_ok=True)
        (maildir / "tmp").write_bytes(b"not a directory")
        try:
            yield "ENOTDIR"
        finally:
            (maildir / "tmp").unlink()
        return
    maildir.chmod(0o555)
    try:
        yield "EACCES"
    finally:
        maildir.chmod(0o755)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_failed_write_defers_and_loses_nothing(site_factory, lmtp_users, transport):
    site = site_factory(transport, lmtp_users)
    maildir = site.server.maildir("alice")
    body = "\n".join(f"line {n:05d} " + "w" * 60 for n in range(600))  # ~44 KB: more than the tmpfs holds
    with unwritable_maildir(maildir) as cause:
        site.postfix.send(sender="sender@sender.test", recipients=["alice@example.org", "bob@example.org"],
                          subject="deferred", body=body)
        # Postfix may already have retried while the block holds (its queue run on a slow machine):
        # every attempt so far must have been deferred with the same reply.
        attempts = site.postfix.wait_for_delivery("alice@example.org", "deferred")
        expected = "452 4.3.1 <alice@example.org> Mail system full" if cause == "ENOSPC" else \
            "451 4.3.0 <alice@example.org> Temporary failure storing the message"
        for deferred in attempts:
            assert expected in deferred["reply"], (cause, deferred)
        # bob's copy is not held back by alice's failure.
        [sent] = site.postfix.wait_for_delivery("bob@example.org", "sent")
        assert sent["dsn"] == "2.0.0"
        # Nothing half-written where a POP3 client would see it.
        assert site.server.stored("alice") == []
        if (maildir / "tmp").is_dir():
            assert list((maildir / "tmp").iterdir()) == []
    assert "delivery failed user=alice to=<alice@example.org>" in site.server.log_text()
    # Space again: Postfix's retry delivers the message it kept.
    site.postfix.flush()
    [stored] = site.wait_for_mail("alice")
    assert b"\n\n" + body.encode() + b"\n" in stored
    site.postfix.wait_for_delivery("alice@example.org", "sent")
    assert len(site.server.stored("bob")) == 1
    client = site.pop3("alice")
    _, lines, _ = client.retr(1)
    assert f"line 00599 {'w' * 60}".encode() in lines
    client.quit()


def test_serve_prints_its_lmtp_listeners(site_factory, lmtp_users):
    site = site_factory("unix", lmtp_users)
    assert f"listening on unix:{site.socket_path} (lmtp)" in site.server.log_text()


def test_serve_exits_2_when_an_lmtp_listener_cannot_be_bound(workdir, postoffice_bin):
    result = procs.run([str(postoffice_bin), "serve", "--maildir", str(workdir / "mail/%u/Maildir"),
                        "--passwd-file", str(workdir / "passwd"), "--listen", f"{procs.HOST}:{procs.free_port()}",
                        "--lmtp", f"unix:{workdir}/missing-directory/lmtp.sock",
                        *(["--run-as", "root"] if procs.is_root() else [])],
                       cwd=workdir, check=False, timeout=60)
    assert result.returncode == 2, procs.describe_result(result)
    assert b"could not start: cannot listen for LMTP" in result.stderr
    # Nothing was announced as listening.
    assert b"listening on" not in result.stdout
