"""Load and abuse runs against `postoffice serve` on loopback (scripts/load, scripts/abuse; CI runs
both with --smoke, from scripts/test).

Every run is bounded in count and time. Each scenario returns a dict of figures and raises
AssertionError when the server misbehaves (a session lost, an answer missing, memory unbounded,
another client slowed past the scenario's bound).

Clients connect from many 127.0.0.0/8 source addresses (`SourceAddresses`), so a per-address
connection cap in the server never sees more than a few connections from one of them, and the
client side does not run out of ephemeral ports.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import statistics
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .procs import HOST, ManagedProcess

#: The file descriptor limit a load run raises itself (and the server it starts) to.
FILE_LIMIT = 65536
#: Bound on a single network wait of a load client.
STEP_TIMEOUT = 60.0
#: Connections opened at once while a run builds up its sessions.
CONNECT_CONCURRENCY = 128
#: Another client's worst cycle (connect, log in, STAT, RETR, QUIT) tolerated during an attack in
#: a smoke run: generous, as CI machines are shared; the full runs report the real figures.
SMOKE_VICTIM_P99_BOUND_MS = 5000


#: What `postoffice serve` keeps back of its descriptors (POP3Server's ConnectionLimit). The rest
#: is the budget sockets and maildrop lock files share; connections may take seven eighths of it,
#: and the sessions silent longest let their lock files go when more are wanted (DescriptorBudget).
SERVER_RESERVED_DESCRIPTORS = 128


def server_connection_limit(file_limit: int) -> int:
    """The sessions a server with `file_limit` descriptors serves at once (its default limit)."""
    budget = max(2, file_limit - SERVER_RESERVED_DESCRIPTORS)
    return max(1, budget - budget // 8)


class Refused(ConnectionError):
    """The server answered the connection with `-ERR [SYS/TEMP]` (over a connection limit)."""


def raise_file_limit(wanted: int = FILE_LIMIT) -> int:
    """Raises this process's RLIMIT_NOFILE (root may raise the hard limit too); returns the soft
    limit now in force. The server started afterwards inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target_hard = max(hard, wanted) if procs.is_root() else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, target_hard), target_hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class SourceAddresses:
    """Hands out loopback source addresses, `per_address` connections each: 127.1.0.1, ..."""

    def __init__(self, per_address: int = 8, base: int = 1) -> None:
        self.per_address = per_address
        self.base = base
        self.count = 0

    def next(self) -> str:
        index = self.count // self.per_address
        self.count += 1
        return f"127.{self.base + index // 65025}.{(index // 255) % 255}.{index % 255 + 1}"


# -- process figures -----------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    return _status_field(pid, "VmRSS")


def hwm_kib(pid: int) -> int:
    return _status_field(pid, "VmHWM")


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {name} for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def latency_summary(values: list[float]) -> dict:
    return {"samples": len(values), "p50_ms": round(percentile(values, 0.5) * 1000, 2),
            "p99_ms": round(percentile(values, 0.99) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2) if values else float("nan")}


# -- the server ----------------------------------------------------------------------------------


@dataclass
class LoadServer:
    """`postoffice serve` with `users` PLAIN accounts (`u00000`, ...) in a temporary directory."""

    binary: Path
    users: int = 1
    idle_timeout: float = 600
    auth_failure_delay: float = 0
    max_connections: int | None = None
    #: The descriptor limit the server inherits from this process (`raise_file_limit`).
    file_limit: int = FILE_LIMIT
    extra_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # In memory when the machine has /dev/shm: thousands of Maildirs, and no disk to wait on.
        shm = Path("/dev/shm")
        self.work = Path(tempfile.mkdtemp(prefix="postoffice-load-", dir=shm if shm.is_dir() else None))
        self.port = procs.free_port()
        self.passwd = self.work / "passwd"
        self.passwd.write_text("".join(f"{self.user(i)}:{{PLAIN}}{self.password(i)}\n"
                                       for i in range(self.users)))
        self.passwd.chmod(0o600)  # serve refuses a passwd-file every user may read
        self.maildir_template = str(self.work / "mail" / "%u" / "Maildir")
        self.process: ManagedProcess | None = None

    @staticmethod
    def user(index: int) -> str:
        return f"u{index:05d}"

    @staticmethod
    def password(index: int) -> str:
        return f"pw{index:05d}"

    def maildir(self, index: int) -> Path:
        return Path(self.maildir_template.replace("%u", self.user(index)))

    def store(self, index: int, message: bytes, name: str) -> None:
        """Puts a message file straight into `new/` (tmp/ then rename), as an MDA would."""
        root = self.maildir(index)
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "tmp" / name).write_bytes(message)
        os.rename(root / "tmp" / name, root / "new" / name)

    def start(self) -> None:
        arguments = [str(self.binary), "serve", "--maildir", self.maildir_template,
                     "--passwd-file", str(self.passwd), "--listen", f"{HOST}:{self.port}",
                     "--auth-failure-delay", str(self.auth_failure_delay),
                     "--idle-timeout", str(self.idle_timeout), "--log-level", os.environ.get("LOAD_LOG_LEVEL", "warning")]
        if procs.is_root():
            # Its files belong to root then; `serve` refuses to serve as root without saying so.
            arguments += ["--run-as", "root"]
        if self.max_connections is not None:
            arguments += ["--max-connections", str(self.max_connections)]
        # LOAD_SERVE_ARGS: more `serve` options for a run, e.g. "--ban-after 0" (no bans).
        extra = self.extra_args + os.environ.get("LOAD_SERVE_ARGS", "").split()
        self.process = ManagedProcess(arguments + extra, self.work / "serve.log", cwd=self.work)
        procs.wait_for_port(self.port, process=self.process.process, describe=self.log_text)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.process.poll() is None

    def log_text(self) -> str:
        return self.process.log_text() if self.process else ""

    def stop(self) -> int | None:
        status = self.process.stop() if self.process else None
        if not os.environ.get("INTEROP_KEEP"):
            import shutil
            shutil.rmtree(self.work, ignore_errors=True)
        return status


def sample_message(size: int, serial: int = 0) -> bytes:
    """A message of about `size` octets with CRLF lines of 76 characters."""
    header = (f"From: load@example.org\r\nTo: u@example.org\r\nSubject: load {serial}\r\n"
              f"Message-ID: <load-{serial}@example.org>\r\n\r\n").encode()
    line = b"x" * 74 + b"\r\n"
    body = line * max(0, (size - len(header)) // len(line))
    return header + body


# -- a small asyncio POP3 client -----------------------------------------------------------------


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, source: str | None = None, *, timeout: float = STEP_TIMEOUT) -> "Client":
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port, local_addr=(source, 0) if source else None, limit=1 << 20),
            timeout)
        client = cls(reader, writer)
        greeting = await client.line(timeout)
        if greeting.startswith(b"-ERR [SYS/TEMP]"):
            writer.transport.abort()
            raise Refused(greeting.decode().strip())
        if not greeting.startswith(b"+OK"):
            raise AssertionError(f"greeting {greeting!r}")
        return client

    async def line(self, timeout: float = STEP_TIMEOUT) -> bytes:
        data = await asyncio.wait_for(self.reader.readline(), timeout)
        if not data:
            raise ConnectionError("server closed the connection")
        return data

    async def command(self, text: str, timeout: float = STEP_TIMEOUT) -> bytes:
        self.writer.write(text.encode() + b"\r\n")
        return await self.line(timeout)

    async def ok(self, text: str, timeout: float = STEP_TIMEOUT) -> bytes:
        answer = await self.command(text, timeout)
        if not answer.startswith(b"+OK"):
            shown = "PASS <secret>" if text.startswith("PASS") else text
            raise AssertionError(f"{shown} -> {answer!r}")
        return answer

    async def multiline(self, timeout: float = STEP_TIMEOUT) -> int:
        """Reads a multi-line body up to its `.` line (the status line already read); returns
        the octets read, terminator included. Reads in large pieces: a readline per line would
        make the client, not the server, the bottleneck."""
        total = 0
        tail = b"\r\n"  # the status line's end
        while True:
            data = await asyncio.wait_for(self.reader.read(1 << 20), timeout)
            if not data:
                raise ConnectionError("server closed the connection")
            total += len(data)
            tail = (tail + data)[-5:]
            if tail.endswith(b"\r\n.\r\n"):
                return total

    async def login(self, user: str, password: str) -> None:
        await self.ok(f"USER {user}")
        await self.ok(f"PASS {password}")

    async def closed_by_server(self, timeout: float) -> bool:
        """True when the server closes within `timeout` (anything it sends first is skipped)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
            return True
        except (TimeoutError, asyncio.TimeoutError):
            return False
        except ConnectionError:
            return True

    def reset(self) -> None:
        """Drops the connection with a reset (no FIN, no TIME_WAIT)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.transport.abort() if self.writer.transport.is_closing() else self.writer.close()


async def victim_cycles(server: LoadServer, user: int, duration: float, pause: float = 0.02,
                        source: str = "127.0.0.250") -> list[float]:
    """Another client's experience: connect, log in, STAT, RETR 1, QUIT, over and over for
    `duration` seconds; returns each cycle's latency in seconds. A cycle that fails raises."""
    latencies: list[float] = []
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        started = time.monotonic()
        client = await Client.connect(server.port, source, timeout=10)
        await client.login(server.user(user), server.password(user))
        await client.ok("STAT", timeout=10)
        await client.ok("RETR 1", timeout=10)
        await client.multiline(timeout=10)
        await client.ok("QUIT", timeout=10)
        client.close()
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(pause)
    return latencies


# -- scenarios -----------------------------------------------------------------------------------


async def sessions(server: LoadServer, count: int, hold: float) -> dict:
    """`count` sessions logged in at once (one account each), held for `hold` seconds, then every
    one answers a NOOP; memory per session from the server's RSS before and while held. A server
    whose descriptor limit allows fewer sessions serves exactly those and refuses the rest with
    `-ERR [SYS/TEMP]` (and stays up)."""
    sources = SourceAddresses()
    baseline = rss_kib(server.pid)
    clients: list[Client] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.monotonic()

    async def open_one(index: int) -> Client:
        async with gate:
            client = await Client.connect(server.port, sources.next())
            await client.login(server.user(index), server.password(index))
            await client.ok("STAT")
            return client

    results = await asyncio.gather(*(open_one(i) for i in range(count)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Refused)]
    failures = [r for r in results if isinstance(r, BaseException) and not isinstance(r, Refused)]
    clients = [r for r in results if isinstance(r, Client)]
    build_seconds = time.monotonic() - started
    allowed = min(count, server_connection_limit(server.file_limit))
    try:
        if failures:
            raise AssertionError(f"{len(failures)} of {count} sessions failed, first: {failures[0]!r}")
        if len(clients) != allowed:
            raise AssertionError(f"{len(clients)} sessions held, {len(refused)} refused; the server's descriptor "
                                 f"limit ({server.file_limit}) allows {allowed}")
        await asyncio.sleep(hold)
        held = rss_kib(server.pid)
        fds = open_fds(server.pid)
        noop_started = time.monotonic()
        answers = await asyncio.gather(*(c.ok("NOOP") for c in clients), return_exceptions=True)
        bad = [a for a in answers if isinstance(a, BaseException)]
        if bad:
            raise AssertionError(f"{len(bad)} held sessions did not answer NOOP, first: {bad[0]!r}")
        noop_seconds = time.monotonic() - noop_started
    finally:
        for client in clients:
            client.reset()
    return {"sessions": count, "held": len(clients), "refused": len(refused), "server_file_limit": server.file_limit,
            "logins_per_s": round(len(clients) / build_seconds, 1),
            "build_s": round(build_seconds, 1), "held_s": hold,
            "rss_idle_mib": round(baseline / 1024, 1), "rss_held_mib": round(held / 1024, 1),
            "kib_per_session": round((held - baseline) / len(clients), 1), "server_fds": fds,
            "noop_all_s": round(noop_seconds, 2)}


async def pipeline(server: LoadServer, commands: int) -> dict:
    """One session sends `commands` commands without waiting (a mix of NOOP, STAT, LIST 1,
    UIDL 1) while reading the answers; every one must be answered +OK, in order."""
    client = await Client.connect(server.port, "127.0.0.200")
    await client.login(server.user(0), server.password(0))
    mix = [b"NOOP\r\n", b"STAT\r\n", b"LIST 1\r\n", b"UIDL 1\r\n"]
    started = time.monotonic()

    async def send() -> None:
        batch = 1000
        for first in range(0, commands, batch):
            client.writer.write(b"".join(mix[i % 4] for i in range(first, min(commands, first + batch))))
            await client.writer.drain()

    async def receive() -> int:
        answered = 0
        while answered < commands:
            line = await client.line()
            if not line.startswith(b"+OK"):
                raise AssertionError(f"command {answered + 1} -> {line!r}")
            answered += 1
        return answered

    sender = asyncio.create_task(send())
    answered = await asyncio.wait_for(receive(), 600)
    await sender
    elapsed = time.monotonic() - started
    await client.ok("QUIT")
    client.close()
    return {"commands": commands, "answered": answered, "seconds": round(elapsed, 2),
            "commands_per_s": round(commands / elapsed)}


async def slowloris(server: LoadServer, connections: int, interval: float, duration: float,
                    victim_user: int = 0) -> dict:
    """`connections` peers each send one byte every `interval` seconds and never end a line (half
    of them after logging in), for up to `duration` seconds, while a victim client runs
    `victim_cycles`. Every slow peer must be closed by the idle timeout, and the victim's p99
    during the attack is reported next to its p99 alone."""
    baseline = await victim_cycles(server, victim_user, min(5.0, duration / 2))
    sources = SourceAddresses(base=2)
    closed_after: list[float] = []

    async def slow_peer(index: int) -> None:
        client = await Client.connect(server.port, sources.next())
        if index % 2 == 1:
            await client.login(server.user(index % (server.users - 1) + 1),
                               server.password(index % (server.users - 1) + 1))
        started = time.monotonic()
        deadline = started + duration
        try:
            while time.monotonic() < deadline:
                client.writer.write(b"N")
                await client.writer.drain()
                if await client.closed_by_server(interval):
                    closed_after.append(time.monotonic() - started)
                    return
        except ConnectionError:
            closed_after.append(time.monotonic() - started)
        finally:
            client.reset()

    attack_started = time.monotonic()
    peers = asyncio.gather(*(slow_peer(i) for i in range(connections)), return_exceptions=True)
    under_attack = await victim_cycles(server, victim_user, min(duration, server.idle_timeout + 2 * interval))
    results = await peers
    attack_seconds = time.monotonic() - attack_started
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise AssertionError(f"{len(errors)} slow peers failed, first: {errors[0]!r}")
    if len(closed_after) != connections:
        raise AssertionError(f"only {len(closed_after)} of {connections} slow peers were closed "
                             f"within {duration} s (idle timeout {server.idle_timeout} s)")
    return {"slow_connections": connections, "byte_every_s": interval, "attack_s": round(attack_seconds, 1),
            "idle_timeout_s": server.idle_timeout, "closed": len(closed_after),
            "closed_after_max_s": round(max(closed_after), 1),
            "victim_alone": latency_summary(baseline), "victim_under_attack": latency_summary(under_attack)}


def _churn_worker(port: int, rate: float, duration: float, base: int) -> tuple[int, int, dict, float]:
    """One client process of `connect_drop`: opens `rate` connections a second for `duration`
    seconds from its own source addresses; returns (opened, failed, failures by kind, seconds
    taken to start them all)."""
    import collections

    async def run() -> tuple[int, int, dict, float]:
        sources = SourceAddresses(per_address=64, base=base)
        opened = 0
        failed = 0
        errors: collections.Counter = collections.Counter()
        tasks: set[asyncio.Task] = set()

        async def one(index: int) -> None:
            nonlocal opened, failed
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, port, local_addr=(sources.next(), 0)), 10)
            except (OSError, asyncio.TimeoutError) as error:
                failed += 1
                errors[type(error).__name__ + (f" {error.errno}" if isinstance(error, OSError) else "")] += 1
                return
            opened += 1
            if index % 2 == 1:
                try:
                    await asyncio.wait_for(reader.readline(), 10)
                except (OSError, asyncio.TimeoutError):
                    pass
            sock = writer.get_extra_info("socket")
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            writer.transport.abort()

        started = time.monotonic()
        for index in range(int(rate * duration)):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(index))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        launched = time.monotonic() - started
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        return opened, failed, dict(errors), launched

    return asyncio.run(run())


async def connect_drop(server: LoadServer, rate: int, duration: float, workers: int = 4) -> dict:
    """Opens `rate` connections a second for `duration` seconds from `workers` client processes
    (one Python process opens about 600 a second here); half are reset at once, half after the
    greeting. Afterwards the server's descriptors return to where they were and a normal session
    still works."""
    import collections
    from concurrent.futures import ProcessPoolExecutor
    fds_before = open_fds(server.pid)
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers) as pool:
        results = await asyncio.gather(*(loop.run_in_executor(pool, _churn_worker, server.port, rate / workers,
                                                              duration, 3 + worker) for worker in range(workers)))
    elapsed = time.monotonic() - started
    opened = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    errors: collections.Counter = collections.Counter()
    for r in results:
        errors.update(r[2])
    total = opened + refused
    launch_seconds = max(r[3] for r in results)
    # Let the server see the last resets, then compare its descriptors.
    fds_after = fds_before
    for _ in range(50):
        fds_after = open_fds(server.pid)
        if fds_after <= fds_before:
            break
        await asyncio.sleep(0.1)
    latencies = await victim_cycles(server, 0, 1.0)
    if fds_after > fds_before:
        raise AssertionError(f"server holds {fds_after - fds_before} more descriptors after the churn")
    if refused > total // 100:
        raise AssertionError(f"{refused} of {total} connections failed: {dict(errors)}")
    return {"connections": total, "started_within_s": round(launch_seconds, 1),
            "rate_per_s": round(total / launch_seconds), "all_done_s": round(elapsed, 1), "failed": refused,
            "failures": dict(errors), "server_fds_before": fds_before, "server_fds_after": fds_after,
            "session_after": latency_summary(latencies)}


async def auth_flood(server: LoadServer, connections: int, duration: float, victim_user: int = 0) -> dict:
    """`connections` peers send wrong passwords (PASS for known and unknown users, AUTH PLAIN,
    AUTH with undecodable base64, abandoned AUTH exchanges) as fast as the server answers, for
    `duration` seconds, while a victim logs in and reads mail. No wrong login may succeed."""
    baseline = await victim_cycles(server, victim_user, min(3.0, duration / 2))
    sources = SourceAddresses(base=4)
    attempts = 0
    successes = 0
    closes = 0
    stop_at = time.monotonic() + duration
    import base64

    def wrong_plain(user: str) -> str:
        return base64.b64encode(f"\0{user}\0wrong".encode()).decode()

    async def flooder(index: int) -> None:
        nonlocal attempts, successes, closes
        while time.monotonic() < stop_at:
            try:
                client = await Client.connect(server.port, sources.next(), timeout=10)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)
                continue
            try:
                while time.monotonic() < stop_at:
                    kind = attempts % 5
                    attempts += 1
                    if kind == 0:
                        await client.command(f"USER {server.user(1)}", timeout=10)
                        answer = await client.command("PASS wrong", timeout=10)
                    elif kind == 1:
                        await client.command("USER nosuchuser", timeout=10)
                        answer = await client.command("PASS wrong", timeout=10)
                    elif kind == 2:
                        answer = await client.command(f"AUTH PLAIN {wrong_plain(server.user(1))}", timeout=10)
                    elif kind == 3:
                        answer = await client.command("AUTH PLAIN %%%not-base64%%%", timeout=10)
                    else:
                        answer = await client.command("AUTH LOGIN", timeout=10)
                        if answer.startswith(b"+ "):
                            answer = await client.command("*", timeout=10)
                    if answer.startswith(b"+OK"):
                        successes += 1
            except (ConnectionError, asyncio.TimeoutError, OSError):
                closes += 1
            finally:
                client.reset()

    attack_started = time.monotonic()
    flood = asyncio.gather(*(flooder(i) for i in range(connections)), return_exceptions=True)
    under_attack = await victim_cycles(server, victim_user, duration)
    results = await flood
    seconds = time.monotonic() - attack_started
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise AssertionError(f"{len(errors)} flooders failed, first: {errors[0]!r}")
    if successes:
        raise AssertionError(f"{successes} wrong logins succeeded")
    return {"flooders": connections, "seconds": round(seconds, 1), "attempts": attempts,
            "attempts_per_s": round(attempts / seconds), "closed_by_server": closes,
            "wrong_logins_accepted": successes, "victim_alone": latency_summary(baseline),
            "victim_under_attack": latency_summary(under_attack)}


async def slow_reader(server: LoadServer, user: int, message_size: int, stall: float) -> dict:
    """RETR of a `message_size` message that the client never reads for `stall` seconds: the
    server's RSS must not grow by more than a few chunks, and the idle timeout closes the
    connection when it is shorter than the stall."""
    client = await Client.connect(server.port, "127.0.0.201")
    await client.login(server.user(user), server.password(user))
    sock = client.writer.get_extra_info("socket")
    baseline = rss_kib(server.pid)
    client.writer.write(b"RETR 1\r\n")
    await client.writer.drain()
    client.writer.transport.pause_reading()
    peak = baseline
    started = time.monotonic()
    while time.monotonic() - started < stall:
        peak = max(peak, rss_kib(server.pid))
        await asyncio.sleep(0.2)
    client.writer.transport.resume_reading()
    # What the server sent before it gave up (or everything, when the stall was shorter).
    received = 0
    closed = False
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                chunk = await client.reader.read(1 << 20)
                if not chunk:
                    closed = True
                    break
                received += len(chunk)
                if received >= message_size and chunk.endswith(b"\r\n.\r\n"):
                    break
    except (TimeoutError, asyncio.TimeoutError):
        pass
    except ConnectionError:
        closed = True
    del sock
    client.reset()
    growth_mib = (peak - baseline) / 1024
    if growth_mib > 32:
        raise AssertionError(f"server RSS grew by {growth_mib:.1f} MiB while a client did not read")
    others = await victim_cycles(server, 0, 1.0)
    return {"message_mib": round(message_size / 1048576, 1), "stall_s": stall,
            "rss_before_mib": round(baseline / 1024, 1), "rss_peak_growth_mib": round(growth_mib, 1),
            "octets_sent_before_close": received, "closed_by_idle_timeout": closed,
            "session_after": latency_summary(others)}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- command line (scripts/load, scripts/abuse) --------------------------------------------------

#: Scenario name -> (description, the server it needs, the run); `full` and `smoke` sizes.
def _scenarios(smoke: bool) -> dict:
    s = smoke
    return {
        "sessions": ("concurrent logged-in sessions held",
                     dict(users=500 if s else int(os.environ.get("LOAD_SESSIONS", 10_000))),
                     lambda server: sessions(server, server.users, hold=2 if s else 10)),
        "pipeline": ("pipelined commands on one session",
                     dict(users=1),
                     lambda server: pipeline(server, 10_000 if s else 100_000)),
        "slowloris": ("a byte every few seconds on many connections",
                      dict(users=51 if s else 401, idle_timeout=3 if s else 10),
                      lambda server: slowloris(server, 50 if s else 400, interval=1 if s else 3,
                                               duration=15 if s else 40)),
        "churn": ("connect-and-drop",
                  dict(users=1),
                  lambda server: connect_drop(server, rate=200 if s else 1000, duration=3 if s else 10,
                                              workers=1 if s else 4)),
        "authflood": ("AUTH and PASS floods",
                      dict(users=2, auth_failure_delay=float(os.environ.get("LOAD_AUTH_FAILURE_DELAY", 0 if s else 2))),
                      lambda server: auth_flood(server, 20 if s else 100, duration=4 if s else 20)),
        "slowreader": ("a client that never reads a large RETR",
                       dict(users=2, idle_timeout=4 if s else 10, message_mib=20 if s else 100),
                       lambda server: slow_reader(server, 1, server.message_size, stall=6 if s else 15)),
    }


LOAD_SCENARIOS = ["sessions", "pipeline"]
ABUSE_SCENARIOS = ["slowloris", "churn", "authflood", "slowreader"]


def run_scenario(name: str, binary: Path, smoke: bool = False) -> dict:
    """Starts a server for scenario `name`, runs it, stops the server; returns the figures."""
    _, setup, body = _scenarios(smoke)[name]
    setup = dict(setup)
    message_mib = setup.pop("message_mib", 0)
    users = setup["users"]
    file_limit = raise_file_limit()
    # No --max-connections: the server serves what its descriptors allow (the limit it inherits).
    server = LoadServer(binary, file_limit=file_limit, **setup)
    server.message_size = message_mib * 1048576 if message_mib else 4096
    try:  # from here on, stop() removes the server's directory whatever fails
        for index in range(users):
            server.maildir(index).mkdir(parents=True)
        server.store(0, sample_message(4096), "1700000000.M1P1.load")
        if message_mib:
            server.store(1, sample_message(server.message_size), "1700000000.M2P1.load")
        server.start()
        figures = asyncio.run(body(server))
        if not server.alive():
            raise AssertionError(f"server exited during {name}:\n{server.log_text()}")
        figures["server_rss_peak_mib"] = round(hwm_kib(server.pid) / 1024, 1)
        for key in ("victim_under_attack", "session_after"):
            if smoke and key in figures and not figures[key]["p99_ms"] < SMOKE_VICTIM_P99_BOUND_MS:
                raise AssertionError(f"another client's p99 ({key}) is {figures[key]['p99_ms']} ms, over "
                                     f"{SMOKE_VICTIM_P99_BOUND_MS} ms")
        return figures
    finally:
        server.stop()


def main(kind: str, default: list[str], argv: list[str]) -> int:
    import argparse
    import json
    from .servers import find_binary
    names = list(_scenarios(False))
    parser = argparse.ArgumentParser(prog=f"scripts/{kind}", description=f"PostOffice {kind} runs on loopback "
                                     "(each bounded in count and time; prints figures as JSON lines).")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"one of {', '.join(names)} (default: {' '.join(default)})")
    parser.add_argument("--smoke", action="store_true", help="the small sizes CI runs")
    parser.add_argument("--binary", type=Path, help="postoffice binary (default: $POSTOFFICE_BIN, then .build/debug)")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.scenarios if name not in names]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(names)}")
    binary = arguments.binary or find_binary()
    status = 0
    for name in arguments.scenarios or default:
        started = time.monotonic()
        try:
            figures = run_scenario(name, binary, arguments.smoke)
            result = "pass"
        except AssertionError as error:
            figures = {"error": str(error)[:2000]}
            result = "FAIL"
            status = 1
        print(json.dumps({"scenario": name, "result": result, "wall_s": round(time.monotonic() - started, 1),
                          **figures}), flush=True)
    return status
