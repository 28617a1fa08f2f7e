"""Retention (RFC 2449 §6.7 EXPIRE), login delays (§6.5 LOGIN-DELAY) and UIDL continuity after a
migration, against real programs: Python's poplib as the client, and Debian's Dovecot as the
server whose Maildir PostOffice takes over."""

from __future__ import annotations

import os
import poplib
import time
from pathlib import Path

import pytest

from harness import corpus, procs
from harness.servers import DovecotServer, PostOfficeServer

DAY = 24 * 60 * 60


def login(server, pki, user: str, password: str) -> poplib.POP3_SSL:
    client = poplib.POP3_SSL(server.host, server.pop3s_port, context=pki.client_context(), timeout=30)
    client.user(user)
    client.pass_(password)
    return client


def retention_capabilities(client) -> dict[str, list[str]]:
    return {name: args for name, args in client.capa().items() if name in ("EXPIRE", "LOGIN-DELAY")}


def put_old_message(maildir: Path, days: int, index: int) -> Path:
    """A message delivered `days` ago, as a delivery agent names it (the name's leading time)."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    arrived = int(time.time()) - days * DAY
    path = maildir / "new" / f"{arrived}.M{index}P{os.getpid()}Q{index}.old-host"
    path.write_bytes(corpus.small(index).data)
    return path


def message_ids(client) -> dict[bytes, bytes]:
    """Message-ID → UIDL for every message of the maildrop (TOP n 0 reads the headers)."""
    found = {}
    for line in client.uidl()[1]:
        number, uidl = line.split(b" ", 1)
        headers = b"\r\n".join(client.top(int(number), 0)[1]) + b"\r\n"
        found[corpus.message_id(headers)] = uidl
    return found


@pytest.fixture
def site(workdir, pki, postoffice_bin):
    """Starts PostOffice servers in one directory (so a restart keeps the data directory)."""
    directory = workdir / "site"
    directory.mkdir(mode=0o755)
    started: list[PostOfficeServer] = []

    def start(passwd_text: str, *extra_args: str) -> PostOfficeServer:
        server = PostOfficeServer(directory, pki, {}, postoffice_bin, passwd_text=passwd_text,
                                  extra_args=list(extra_args))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_capa_announces_expire_and_login_delay_per_user(site, pki):
    server = site("alice:{PLAIN}pw-a::::::expire_days=5\nbob:{PLAIN}pw-b::::::login_delay=60\n",
                  "--expire-days", "30", "--login-delay", "0")
    client = poplib.POP3_SSL(server.host, server.pop3s_port, context=pki.client_context(), timeout=30)
    # Before login: the shortest period and the longest delay any account has, with USER.
    assert retention_capabilities(client) == {"EXPIRE": ["5", "USER"], "LOGIN-DELAY": ["60", "USER"]}
    client.quit()
    alice = login(server, pki, "alice", "pw-a")
    assert retention_capabilities(alice) == {"EXPIRE": ["5"], "LOGIN-DELAY": ["0"]}
    alice.quit()
    bob = login(server, pki, "bob", "pw-b")
    assert retention_capabilities(bob) == {"EXPIRE": ["30"], "LOGIN-DELAY": ["60"]}
    bob.quit()


def test_expire_deletes_old_retrieved_mail_at_quit(site, pki):
    server = site("alice:{PLAIN}pw-a\n", "--expire-days", "30")
    server.deliver("alice", corpus.small(3).data)
    read_old = put_old_message(server.maildir("alice"), 40, 1)
    unread_old = put_old_message(server.maildir("alice"), 35, 2)
    client = login(server, pki, "alice", "pw-a")
    assert retention_capabilities(client) == {"EXPIRE": ["30"]}
    assert client.stat()[0] == 3
    # Message order is delivery order: the 40-day-old one, the 35-day-old one, the new one.
    client.retr(1)
    client.retr(3)
    client.top(2, 0)
    assert client.quit().startswith(b"+OK")
    names = [path.name for path in server.stored("alice")]
    assert read_old.name not in names, "retrieved and past the period: deleted at QUIT"
    assert unread_old.name in names, "not retrieved: left for `postoffice expire`"
    assert len(names) == 2
    deadline = time.monotonic() + 10
    while "expired=1" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "logout user=alice retrieved=2 deleted=1 " in server.log_text()
    assert "expired=1" in server.log_text()


def test_expire_zero_deletes_what_was_retrieved(site, pki):
    server = site("alice:{PLAIN}pw-a::::::expire_days=0\n")
    for index in range(2):
        server.deliver("alice", corpus.small(index).data)
    client = login(server, pki, "alice", "pw-a")
    assert retention_capabilities(client) == {"EXPIRE": ["0"]}
    client.retr(2)
    client.quit()
    assert len(server.stored("alice")) == 1


def expire(postoffice_bin, *args: str, check: bool = True):
    return procs.run([str(postoffice_bin), "expire", *args], check=check)


def test_postoffice_expire_deletes_old_mail_of_every_account(workdir, pki, postoffice_bin):
    directory = workdir / "offline"
    directory.mkdir(mode=0o755)
    server = PostOfficeServer(directory, pki, {}, postoffice_bin, passwd_text=(
        "alice:{PLAIN}pw-a\nbob:{PLAIN}pw-b::::::expire_days=NEVER\ncarol:{PLAIN}pw-c::::::expire_days=60\n"))
    for user in ("alice", "bob", "carol"):
        server.deliver(user, corpus.small(9).data)
        put_old_message(server.maildir(user), 45, 1)
    put_old_message(server.maildir("alice"), 31, 2)
    before = {user: sorted(p.name for p in server.stored(user)) for user in ("alice", "bob", "carol")}

    dry = expire(postoffice_bin, *server.site_options(), "--expire-days", "30", "--dry-run")
    out = dry.stdout.decode()
    assert out.count("would expire user=alice ") == 2, out
    assert "user=bob" not in out and "user=carol" not in out, out
    assert "expire: would remove 2 messages" in out, out
    assert {user: sorted(p.name for p in server.stored(user)) for user in before} == before

    # The systemd unit's way: the site's config file, with the keys `serve` reads too.
    config = directory / "postoffice.toml"
    config.write_text(f"""[server]
maildir = "{server.maildir_template}"
passwd_file = "{server.passwd_file}"
listen = ["127.0.0.1:1"]
expire_days = 30
""")
    done = expire(postoffice_bin, "--config", str(config))
    out = done.stdout.decode()
    assert out.count("expired user=alice ") == 2, out
    assert "age=45d" in out and "age=31d" in out, out
    assert "expire: removed 2 messages" in out and "0 failed" in out, out
    assert [p.name for p in server.stored("alice")] == [n for n in before["alice"] if ".old-host" not in n]
    assert len(server.stored("bob")) == 2, "expire_days=NEVER keeps everything"
    assert len(server.stored("carol")) == 2, "45 days is within carol's 60"


def test_postoffice_expire_skips_a_maildrop_in_use(site, pki, postoffice_bin):
    server = site("alice:{PLAIN}pw-a\n")
    put_old_message(server.maildir("alice"), 45, 1)
    client = login(server, pki, "alice", "pw-a")
    try:
        result = expire(postoffice_bin, *server.site_options(), "--expire-days", "30")
        out = result.stdout.decode()
        assert "skipped user=alice" in out, out
        assert "1 in use" in out, out
        assert len(server.stored("alice")) == 1
    finally:
        client.quit()
    expire(postoffice_bin, *server.site_options(), "--expire-days", "30")
    assert server.stored("alice") == []


def test_login_delay_refused_then_allowed_even_after_a_restart(site, pki):
    delay = 10
    passwd = "alice:{PLAIN}pw-a\nbob:{PLAIN}pw-b\n"
    server = site(passwd, "--login-delay", str(delay))
    client = login(server, pki, "alice", "pw-a")
    first_login = time.monotonic()
    assert retention_capabilities(client) == {"LOGIN-DELAY": [str(delay)]}
    client.quit()
    with pytest.raises(poplib.error_proto, match=r"-ERR \[LOGIN-DELAY\]"):
        login(server, pki, "alice", "pw-a")
    login(server, pki, "bob", "pw-b").quit()
    assert "login delayed user=alice " in server.log_text()

    server.stop()
    history = server.work / "postoffice-data" / "last-logins"
    assert history.is_file(), "the last logins are kept in the data directory"
    assert b" alice\n" in history.read_bytes()
    server = site(passwd, "--login-delay", str(delay))
    if time.monotonic() - first_login < delay - 1:
        with pytest.raises(poplib.error_proto, match=r"-ERR \[LOGIN-DELAY\]"):
            login(server, pki, "alice", "pw-a")
    time.sleep(max(0.0, first_login + delay + 0.5 - time.monotonic()))
    login(server, pki, "alice", "pw-a").quit()


@pytest.mark.parametrize("dovecot_uidls", ["default", "saved"])
def test_dovecot_uidls_survive_the_switch(workdir, pki, users, postoffice_bin, dovecot_uidls):
    """A Maildir Dovecot served and listed: PostOffice lists the same UIDLs for its messages, its
    own for mail delivered after the switch, and leaves dovecot-uidlist as it was. "saved" runs
    Dovecot with another UIDL format and `pop3_save_uidl`, so the file records the UIDLs (P)."""
    directory = workdir / "migrated"
    directory.mkdir(mode=0o755)
    extra = "" if dovecot_uidls == "default" else "pop3_uidl_format = UID%u-%v-%f\npop3_save_uidl = yes\n"
    dovecot = DovecotServer(directory, pki, users, extra_config=extra)
    messages = [corpus.small(index) for index in range(4)]
    try:
        dovecot.start()
        for message in messages[:3]:
            dovecot.deliver("alice", message.data)
        client = login(dovecot, pki, "alice", users["alice"])
        seen = message_ids(client)
        client.retr(1)
        client.quit()
    finally:
        dovecot.stop()
    assert len(seen) == 3
    if dovecot_uidls == "default":
        assert all(len(uidl) == 16 for uidl in seen.values()), seen
    uidlist = dovecot.maildir("alice") / "dovecot-uidlist"
    recorded = uidlist.read_bytes()
    if dovecot_uidls == "saved":
        assert b" P" in recorded, recorded

    # PostOffice takes over the same tree; `serve` wants the passwd-file closed to others.
    dovecot.passwd_file.chmod(0o600)
    server = PostOfficeServer(directory, pki, users, postoffice_bin)
    server.start()
    try:
        server.deliver("alice", messages[3].data)
        client = login(server, pki, "alice", users["alice"])
        listed = message_ids(client)
        client.quit()
    finally:
        server.stop()
    assert {key: listed[key] for key in seen} == seen, "the UIDLs clients saw are the same"
    newest = listed[messages[3].message_id]
    assert newest not in seen.values()
    assert newest.decode() in [path.name.split(":")[0] for path in server.stored("alice")]
    assert uidlist.read_bytes() == recorded, "dovecot-uidlist is only read"
