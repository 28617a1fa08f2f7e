"""Faults during real work: each must end with nothing lost and a clear error.

- `deliver` and the LMTP listener on a full disk (a small tmpfs) and on a read-only Maildir:
  non-zero exit or a 4xx reply, no partial file in new/ (or tmp/).
- The server SIGKILLed during UPDATE: the next session sees each message deleted or intact, and
  the maildrop lock is free.
- A message file removed or truncated by another program during a session: RETR gets -ERR, the
  session goes on, sizes stay honest.
- More connections configured than the descriptor limit allows: the rest are refused with
  `-ERR [SYS/TEMP]`, and the server stays up.
- The passwd-file rewritten while logins run (atomic replace, and a torn write): logins keep
  working on the last good copy.
- `postoffice fetch` with its disk full, its state database locked or corrupt, and a server that
  sends garbage in the middle of a listing: the right exit code, and nothing deleted on the
  server that is not stored.

The tests that mount a small tmpfs need root, as CI runs; without it they fail (`require_root`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import smtplib
import socket
import socketserver
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import procs
from harness.fetchrun import FetchClient
from harness.pop3 import RawPOP3
from harness.servers import PostOfficeServer, add_user

EXIT_NETWORK, EXIT_IOERR, EXIT_LOCKED, EXIT_PROTOCOL, EXIT_CONFIG = 69, 74, 75, 76, 78


def require_root() -> None:
    assert procs.is_root(), "fault tests mount file systems: run them as root (CI does)"


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A tmpfs of `size` mounted on `path` for the duration (unmounted by path afterwards)."""
    require_root()
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def message(serial: int, size: int = 2000) -> bytes:
    header = (f"From: fault@example.org\r\nTo: alice@example.org\r\nSubject: fault {serial}\r\n"
              f"Message-ID: <fault-{serial}@example.org>\r\n\r\n").encode()
    line = f"{serial:08d} ".encode() + b"y" * 64 + b"\r\n"
    return header + line * max(1, (size - len(header)) // len(line))


def write_maildir(root: Path, messages: list[bytes]) -> dict[str, bytes]:
    """Stores `messages` in `root/new` as an MDA does (tmp/ then rename); returns name -> bytes."""
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    stored = {}
    for index, data in enumerate(messages):
        name = f"1700000000.M{index}P{os.getpid()}.faults"
        (root / "tmp" / name).write_bytes(data)
        os.rename(root / "tmp" / name, root / "new" / name)
        stored[name] = data
    return stored


def files_in(root: Path, sub: str) -> list[Path]:
    directory = root / sub
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


@pytest.fixture
def our_server(workdir, pki, users, postoffice_bin):
    server = PostOfficeServer(workdir / "server", pki, users, postoffice_bin)
    (workdir / "server").mkdir(exist_ok=True)
    yield server
    server.stop()


def deliver(server: PostOfficeServer, user: str, data: bytes) -> subprocess.CompletedProcess:
    server._ensure_passwd_file()
    return procs.run([str(server.binary), "deliver", user, *server.site_options()], input=data, check=False,
                     timeout=60)


# -- deliver and LMTP on a full disk and a read-only Maildir -------------------------------------


def test_deliver_on_a_full_disk_fails_and_leaves_no_partial_file(our_server):
    maildir = our_server.maildir("alice")
    with tmpfs(maildir.parent, "256k"):
        assert deliver(our_server, "alice", message(1)).returncode == 0
        big = deliver(our_server, "alice", message(2, size=1024 * 1024))
        assert big.returncode != 0, procs.describe_result(big)
        assert b"space" in big.stderr.lower(), procs.describe_result(big)
        assert [p.read_bytes() for p in files_in(maildir, "new")] == [message(1)]
        assert files_in(maildir, "tmp") == []
        # The disk is not poisoned: a message that fits is delivered.
        assert deliver(our_server, "alice", message(3)).returncode == 0
        assert len(files_in(maildir, "new")) == 2


def test_deliver_to_a_read_only_maildir_fails_and_changes_nothing(our_server):
    maildir = our_server.maildir("alice")
    with tmpfs(maildir.parent, "1m"):
        assert deliver(our_server, "alice", message(1)).returncode == 0
        remount_read_only(maildir.parent)
        result = deliver(our_server, "alice", message(2))
        assert result.returncode != 0, procs.describe_result(result)
        assert b"read-only" in result.stderr.lower(), procs.describe_result(result)
        assert [p.read_bytes() for p in files_in(maildir, "new")] == [message(1)]
        assert files_in(maildir, "tmp") == []


def lmtp_send(port: int, recipient: str, data: bytes) -> tuple[int, bytes]:
    """One LMTP transaction for one recipient; returns the DATA reply (code, text)."""
    with smtplib.LMTP(procs.HOST, port, timeout=30) as client:
        client.ehlo_or_helo_if_needed()
        code, text = client.mail("sender@example.org")
        assert code == 250, (code, text)
        code, text = client.rcpt(recipient)
        assert code == 250, (code, text)
        return client.data(data)


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_lmtp_on_a_failing_disk_answers_4xx_and_leaves_no_partial_file(workdir, pki, users, postoffice_bin, fault):
    lmtp_port = procs.free_port()
    server = PostOfficeServer(workdir / "server", pki, users, postoffice_bin,
                              extra_args=["--lmtp", f"{procs.HOST}:{lmtp_port}"])
    (workdir / "server").mkdir(exist_ok=True)
    maildir = server.maildir("alice")
    with tmpfs(maildir.parent, "256k"):
        try:
            server.start()
            procs.wait_for_port(lmtp_port, process=server.process.process, describe=server.log_text)
            code, _ = lmtp_send(lmtp_port, "alice@example.org", message(1))
            assert code == 250
            if fault == "full":
                code, text = lmtp_send(lmtp_port, "alice@example.org", message(2, size=1024 * 1024))
            else:
                remount_read_only(maildir.parent)
                code, text = lmtp_send(lmtp_port, "alice@example.org", message(2))
            assert 400 <= code < 500, (code, text)
            print(f"LMTP, {fault}: {code} {text.decode(errors='replace')}")
            # The one message delivered before the fault, whole (behind the trace fields LMTP adds).
            delivered = [p.read_bytes().replace(b"\r\n", b"\n") for p in files_in(maildir, "new")]
            assert len(delivered) == 1 and delivered[0].endswith(message(1).replace(b"\r\n", b"\n"))
            assert files_in(maildir, "tmp") == []
            if fault == "read-only":
                subprocess.run(["mount", "-o", "remount,rw", str(maildir.parent)], check=True)
            with RawPOP3(server.pop3_port) as pop:
                pop.login("alice", users["alice"])
                assert pop.ok("STAT").startswith(b"+OK 1 ")
                pop.quit()
        finally:
            server.stop()


# -- the server killed during UPDATE -------------------------------------------------------------


@pytest.mark.parametrize("delay_ms", [0, 5, 20, 60])
def test_server_killed_during_update_leaves_each_message_deleted_or_intact(our_server, users, delay_ms):
    maildir = our_server.maildir("alice")
    originals = write_maildir(maildir, [message(i, size=1500) for i in range(1500)])
    by_content = {data: name for name, data in originals.items()}
    our_server.start()
    pop = RawPOP3(our_server.pop3_port)
    pop.login("alice", users["alice"])
    pop.send(b"".join(f"DELE {n}\r\n".encode() for n in range(1, len(originals) + 1)) + b"QUIT")
    for _ in originals:
        assert pop.read_line().startswith(b"+OK")
    time.sleep(delay_ms / 1000)
    os.kill(our_server.process.pid, signal.SIGKILL)
    our_server.process.process.wait(timeout=10)
    pop.close()

    remaining = files_in(maildir, "new") + files_in(maildir, "cur")
    for path in remaining:
        data = path.read_bytes()
        assert data in by_content, f"{path.name} is neither deleted nor intact ({len(data)} octets)"
    assert files_in(maildir, "tmp") == []

    # The lock is free: a new server's first login gets the maildrop at once and lists exactly
    # what is left.
    our_server.process = None
    our_server.start()
    with RawPOP3(our_server.pop3_port, timeout=10) as pop:
        pop.login("alice", users["alice"])
        listing = pop.listing()
        assert len(listing) == len(remaining)
        if listing:
            body = pop.retr(1)
            assert body in by_content
        pop.quit()
    print(f"SIGKILL {delay_ms} ms after QUIT: {len(originals) - len(remaining)} deleted, "
          f"{len(remaining)} intact, 0 damaged")


# -- message files changed by another program during a session ----------------------------------


def test_message_removed_or_truncated_during_a_session_gets_err_and_the_session_goes_on(our_server, users):
    maildir = our_server.maildir("alice")
    originals = write_maildir(maildir, [message(i, size=3000) for i in range(3)])
    names = sorted(originals)
    our_server.start()
    with RawPOP3(our_server.pop3_port) as pop:
        pop.login("alice", users["alice"])
        listed = pop.listing()
        assert len(listed) == 3
        (maildir / "new" / names[1]).unlink()
        with open(maildir / "new" / names[2], "r+b") as handle:
            handle.truncate(1000)
        assert pop.command("RETR 2").startswith(b"-ERR")
        assert pop.command("RETR 3").startswith(b"-ERR")
        assert pop.command("TOP 3 0").startswith(b"-ERR")
        assert pop.ok("NOOP")
        assert pop.retr(1) == originals[names[0]]
        assert pop.ok("STAT") == f"+OK 3 {sum(listed.values())}".encode()
        pop.quit()
    # The next session lists what is there now, with its real size.
    with RawPOP3(our_server.pop3_port) as pop:
        pop.login("alice", users["alice"])
        listed = pop.listing()
        # The cut-off last line is sent with a CRLF: 1,000 octets stored, 1,002 on the wire.
        assert sorted(listed.values()) == sorted([len(originals[names[0]]), 1002])
        for number, size in listed.items():
            _, body = pop.multiline(f"RETR {number}")
            assert len(body) == size
        pop.quit()


# -- more connections configured than the descriptors allow ------------------------------------

#: The server's descriptor limit in the test below, and the connections it allows: 128 kept back,
#: seven eighths of the rest for sockets; lock files get what sockets leave, and sessions silent
#: longest let theirs go when more are wanted (POP3Server's ConnectionLimit, DescriptorBudget).
SMALL_DESCRIPTOR_LIMIT = 256
DESCRIPTOR_BUDGET = SMALL_DESCRIPTOR_LIMIT - 128
ALLOWED_CONNECTIONS = DESCRIPTOR_BUDGET - DESCRIPTOR_BUDGET // 8


def test_more_connections_configured_than_descriptors_allow_are_refused_and_the_server_stays_up(workdir, pki,
                                                                                                 postoffice_bin):
    """`--max-connections` far past what the descriptor limit allows: the server serves what its
    descriptors allow, refuses the rest with `-ERR [SYS/TEMP]`, and stays up. It used to accept
    them all, run out of descriptors at the next logins, and die of SIGILL: on Linux, Swift's
    thread-pool monitor (libdispatch) stops the process when it cannot open a /proc file."""
    accounts = {f"user{i:03d}": f"pw-{i:03d}" for i in range(150)}
    server = PostOfficeServer(
        workdir / "server", pki, accounts, postoffice_bin,
        passwd_text="".join(f"{name}:{{PLAIN}}{password}\n" for name, password in accounts.items()),
        launcher=["prlimit", f"--nofile={SMALL_DESCRIPTOR_LIMIT}:{SMALL_DESCRIPTOR_LIMIT}", "--"],
        extra_args=["--max-connections", "1000", "--max-connections-per-ip", "0"])
    (workdir / "server").mkdir(exist_ok=True)
    for name in accounts:
        server.deliver(name, message(1))
    served: list[RawPOP3] = []
    refused = []
    try:
        server.start()
        for name, password in accounts.items():
            client = RawPOP3(server.pop3_port)
            if not client.greeting.startswith(b"+OK"):
                refused.append(client.greeting)
                client.close()
                continue
            client.login(name, password)
            assert client.command("STAT").startswith(b"+OK 1 ")
            served.append(client)
        assert len(served) == ALLOWED_CONNECTIONS
        assert set(refused) == {b"-ERR [SYS/TEMP] too many connections, try again later\r\n"}
        # Past the thread-pool monitor's one-second round: every session still answers.
        time.sleep(2.5)
        for client in served:
            assert client.command("NOOP") == b"+OK"
        assert len(served[0].retr(1)) > 1000
        assert server.process.process.poll() is None, server.log_text()
        log = (server.work / "postoffice-serve.log").read_text()
        assert "needs more descriptors than the limit allows" in log
        assert "Too many open files" not in log
    finally:
        for client in served:
            client.close()
        server.stop()


# -- the passwd-file rewritten while logins run --------------------------------------------------


class LoginLoop:
    """Threads logging in as each of `users` over and over; records every failure."""

    def __init__(self, port: int, users: dict[str, str], threads: int = 4) -> None:
        self.port = port
        self.users = list(users.items())
        self.stop = threading.Event()
        self.logins = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, index: int) -> None:
        # Each thread its own accounts: one maildrop is one session at a time.
        mine = self.users[index::len(self.threads)]
        turn = 0
        while not self.stop.is_set():
            name, password = mine[turn % len(mine)]
            turn += 1
            try:
                with RawPOP3(self.port, timeout=10) as pop:
                    pop.ok(f"USER {name}")
                    answer = pop.command(f"PASS {password}")
                    if answer.startswith(b"+OK"):
                        pop.quit()
                    with self.lock:
                        self.logins += 1
                        if not answer.startswith(b"+OK"):
                            self.failures.append(f"{name}: {answer!r}")
            except (OSError, AssertionError) as error:
                with self.lock:
                    self.failures.append(f"{name}: {error!r}")

    def __enter__(self) -> "LoginLoop":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def many_users(users):
    extra = {f"user{i:02d}": f"pw-{i:02d}-secret" for i in range(20)}
    return {**users, **extra}


def passwd_text(server: PostOfficeServer, users: dict[str, str], work: Path) -> bytes:
    scratch = work / "passwd-scratch"
    scratch.unlink(missing_ok=True)
    for name, password in users.items():
        add_user(server.binary, scratch, name, password, scheme="SHA512-CRYPT")
    return scratch.read_bytes()


@pytest.fixture
def passwd_server(workdir, pki, many_users, postoffice_bin):
    """A started server whose passwd-file lists `many_users` (SHA512-CRYPT), and that file's text."""
    server = PostOfficeServer(workdir / "server", pki, many_users, postoffice_bin)
    (workdir / "server").mkdir(exist_ok=True)
    text = passwd_text(server, many_users, workdir)
    server.passwd_file.write_bytes(text)
    server.passwd_file.chmod(0o600)  # serve refuses a passwd-file every user may read
    try:
        server.start()
        yield server, text
    finally:
        server.stop()


def test_passwd_file_replaced_atomically_while_logins_run(passwd_server, many_users):
    server, text = passwd_server
    with LoginLoop(server.pop3_port, many_users) as loop:
        for round_number in range(15):
            replacement = server.passwd_file.with_name("passwd.new")
            replacement.write_bytes(text + f"# rewrite {round_number}\n".encode())
            replacement.chmod(0o600)
            os.rename(replacement, server.passwd_file)
            time.sleep(0.3)
    assert loop.logins > 20
    assert loop.failures == []


def mid_line(text: bytes, offset: int) -> int:
    """`offset` moved forward until it cuts a line (a write torn exactly at a line end reads as
    a shorter file, which no reader can tell from a real one)."""
    while text[offset - 1:offset] == b"\n":
        offset += 1
    return offset


def test_torn_passwd_file_write_keeps_logins_on_the_last_good_copy(passwd_server, many_users):
    server, text = passwd_server
    with LoginLoop(server.pop3_port, many_users) as loop:
        time.sleep(1.5)
        for cut in (0, mid_line(text, len(text) // 3), mid_line(text, len(text) // 2)):
            # Rewritten in place (truncate, then write), stopped half-way for 2.5 s: longer
            # than the server's 1 s re-check of the file.
            with open(server.passwd_file, "r+b") as handle:
                handle.truncate(0)
                handle.write(text[:cut])
                handle.flush()
                os.fsync(handle.fileno())
                time.sleep(2.5)
                handle.write(text[cut:])
            time.sleep(1.5)
    assert loop.logins > 20
    assert loop.failures == []
    server.stop()  # the whole log written
    assert "keeping the previous copy" in (server.work / "postoffice-serve.log").read_text()


# -- the fetcher: disk full, state database locked or corrupt, garbage from the server ----------


def server_files(server: PostOfficeServer, user: str) -> set[bytes]:
    return {p.read_bytes() for p in server.stored(user)}


def stored_locally(directory: Path) -> set[bytes]:
    """Bodies of the messages a fetch stored in a Maildir, from the Message-ID line on."""
    found = set()
    for sub in ("new", "cur"):
        if (directory / sub).is_dir():
            for path in (directory / sub).iterdir():
                data = path.read_bytes()
                found.add(data[data.index(b"Message-ID"):] if b"Message-ID" in data else data)
    return found


def assert_nothing_lost(server: PostOfficeServer, originals: list[bytes], local: Path) -> None:
    """Every original is on the server still, or stored locally (LF line ends there)."""
    on_server = server_files(server, "alice")
    here = stored_locally(local)
    for original in originals:
        if original in on_server:
            continue
        key = original[original.index(b"Message-ID"):].replace(b"\r\n", b"\n")
        assert key in here, f"message {original[:120]!r} was deleted on the server but not stored"


@pytest.fixture
def alice_fetch(our_server, postoffice_bin, client_dir, pki, users):
    return FetchClient(postoffice_bin, client_dir, our_server, pki, "alice", users["alice"])


def test_fetch_with_its_disk_full_exits_74_and_deletes_only_what_it_stored(our_server, alice_fetch, client_dir):
    originals = [message(i, size=60_000) for i in range(8)]
    write_maildir(our_server.maildir("alice"), originals)
    our_server.start()
    with tmpfs(alice_fetch.target_path, "200k"):
        result = alice_fetch.run(expect=None)
        assert result.returncode == EXIT_IOERR, procs.describe_result(result)
        assert "space" in result.stderr.decode().lower(), procs.describe_result(result)
        assert_nothing_lost(our_server, originals, alice_fetch.target_path)
        assert len(server_files(our_server, "alice")) > 0
        assert files_in(alice_fetch.target_path, "tmp") == []


def test_fetch_with_its_state_database_locked_exits_75_and_changes_nothing(our_server, alice_fetch):
    originals = [message(i) for i in range(5)]
    write_maildir(our_server.maildir("alice"), originals)
    our_server.start()
    # A first run creates the state database; then another program holds it locked.
    alice_fetch.run("--keep")
    holder = sqlite3.connect(alice_fetch.state, timeout=1)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        result = alice_fetch.run(expect=None, timeout=90)
        assert result.returncode == EXIT_LOCKED, procs.describe_result(result)
        assert time.monotonic() - started < 60
        assert "lock" in result.stderr.decode().lower(), procs.describe_result(result)
    finally:
        holder.rollback()
        holder.close()
    assert server_files(our_server, "alice") == set(originals)


def test_fetch_with_a_corrupt_state_database_exits_with_a_clear_error_and_changes_nothing(our_server, alice_fetch):
    originals = [message(i) for i in range(5)]
    write_maildir(our_server.maildir("alice"), originals)
    our_server.start()
    alice_fetch.state.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    result = alice_fetch.run(expect=None)
    assert result.returncode in (EXIT_IOERR, EXIT_CONFIG), procs.describe_result(result)
    print(f"corrupt state database: exit {result.returncode}: {result.stderr.decode().strip()}")
    assert str(alice_fetch.state) in result.stderr.decode(), procs.describe_result(result)
    assert server_files(our_server, "alice") == set(originals)
    assert stored_locally(alice_fetch.target_path) == set()


class GarbageListingServer(socketserver.ThreadingTCPServer):
    """A cleartext POP3 server for alice whose UIDL (or LIST) listing breaks off with garbage.
    It records every command, so a DELE would show."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, password: str, garbage: bytes) -> None:
        self.password = password
        self.garbage = garbage
        self.commands: list[str] = []
        super().__init__((procs.HOST, 0), self.Handler)

    class Handler(socketserver.StreamRequestHandler):
        timeout = 30

        def handle(self) -> None:
            server: GarbageListingServer = self.server  # type: ignore[assignment]
            send = lambda line: self.wfile.write(line + b"\r\n")
            send(b"+OK garbage test server")
            for raw in self.rfile:
                command = raw.decode("utf-8", "replace").strip()
                server.commands.append(command.split(" ")[0].upper())
                verb = command.split(" ")[0].upper()
                if verb == "CAPA":
                    self.wfile.write(b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n")
                elif verb == "USER":
                    send(b"+OK")
                elif verb == "PASS":
                    send(b"+OK" if command.endswith(server.password) else b"-ERR [AUTH] no")
                elif verb == "STAT":
                    send(b"+OK 5 10000")
                elif verb in ("UIDL", "LIST"):
                    self.wfile.write(b"+OK\r\n1 aaa\r\n2 bbb\r\n" if verb == "UIDL" else b"+OK\r\n1 2000\r\n2 2000\r\n")
                    self.wfile.write(server.garbage)
                    self.wfile.flush()
                    return
                elif verb == "QUIT":
                    send(b"+OK")
                    return
                else:
                    send(b"-ERR")


@pytest.mark.parametrize("garbage", [b"\x00\xff\xfe binary \x80\r\n", b"3 ccc\r\nthis is not a listing line\r\n.\r\n",
                                     b"-ERR suddenly\r\n", b"4 " + b"d" * 5000 + b"\r\n"])
def test_fetch_from_a_server_sending_garbage_mid_listing_exits_and_deletes_nothing(client_dir, postoffice_bin,
                                                                                   users, garbage):
    server = GarbageListingServer(users["alice"], garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (client_dir / "pw").write_text(users["alice"] + "\n")
        argv = [str(postoffice_bin), "fetch", "--host", procs.HOST, "--port", str(server.server_address[1]),
                "--tls", "none", "--user", "alice", "--password-file", str(client_dir / "pw"),
                "--to", f"maildir:{client_dir / 'Maildir'}", "--state", str(client_dir / "state"),
                "--timeout", "10s"]
        result = procs.run(argv, check=False, timeout=90)
        assert result.returncode in (EXIT_NETWORK, EXIT_PROTOCOL), procs.describe_result(result)
        print(f"garbage {garbage[:12]!r}: exit {result.returncode}: {result.stderr.decode().strip()[-160:]}")
        assert "DELE" not in server.commands
        assert stored_locally(client_dir / "Maildir") == set()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serve_logs_each_passwd_file_problem_once(workdir, pki, users, postoffice_bin):
    """A bad line in the passwd-file is logged once at start, not once by the provider and again
    by `serve` (the provider reports every problem it finds on each load)."""
    server = PostOfficeServer(workdir / "server", pki, users, postoffice_bin,
                              passwd_text="".join(f"{name}:{{PLAIN}}{password}\n" for name, password in users.items())
                              + "a line with no fields\n")
    (workdir / "server").mkdir(exist_ok=True)
    try:
        server.start()
        client = RawPOP3(server.pop3_port)
        name, password = next(iter(users.items()))
        client.login(name, password)
        assert client.quit().startswith(b"+OK")
    finally:
        server.stop()
    log = (server.work / "postoffice-serve.log").read_text()
    bad_line = f"line {len(users) + 1}"
    assert sum(bad_line in line for line in log.splitlines()) == 1, log
