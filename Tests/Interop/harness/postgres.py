"""A PostgreSQL server of our own, from Debian's packages, for the scale-out tests.

`initdb` into a fresh directory under /tmp, then `postgres` as our child (not a daemon) on a
free loopback port, with its Unix socket in that directory: never the machine's own cluster,
its port 5432 or its socket directory. PostgreSQL refuses to run as root, so as root the server
runs as the unprivileged `postgres` user (scripts/install-deps.sh makes sure it exists). It is
stopped by PID: SIGINT (PostgreSQL's fast shutdown, which does not wait for clients), then
SIGQUIT, then SIGKILL, each after a bounded wait.

Local (socket) connections are trusted; TCP connections on 127.0.0.1 need the password
(SCRAM-SHA-256), so the nodes log in as a real deployment would. Settings are small (2 cores
are shared): 16 MB of shared buffers, `max_connections` 60. Test servers skip fsync unless
`durable=True` (benchmarks).

Run as a script, it serves the Swift tests: `python3 postgres.py serve --owner PID` starts a
server, prints one JSON line (`url`, `admin_url`, `pid`, `work`) and returns; a detached process
of ours stops the server when process PID ends, so it never outlives the test process.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness import procs  # noqa: E402
    from harness.procs import HOST, ManagedProcess  # noqa: E402
else:
    from . import procs
    from .procs import HOST, ManagedProcess

#: The unprivileged account PostgreSQL runs as when we are root.
DATABASE_USER = "postgres"
#: The superuser initdb creates; the nodes log in as it (its own database per test).
SUPERUSER = "postoffice"


def binaries() -> Path:
    """The newest installed PostgreSQL's `bin` directory (Debian: /usr/lib/postgresql/N/bin)."""
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not versions:
        raise FileNotFoundError("PostgreSQL is not installed: run scripts/install-deps.sh")
    return versions[-1]


def as_database_user(argv: list[str]) -> list[str]:
    if not procs.is_root():
        return list(argv)
    return ["setpriv", f"--reuid={DATABASE_USER}", f"--regid={DATABASE_USER}", "--init-groups", "--", *argv]


class PostgresServer:
    """One PostgreSQL server in a temporary directory."""

    def __init__(self, *, durable: bool = False, max_connections: int = 60,
                 shared_buffers: str = "16MB") -> None:
        # Short: the socket path (DIR/.s.PGSQL.PORT) must fit in 107 bytes.
        self.work = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        self.data = self.work / "data"
        self.socket_dir = self.work
        self.port = procs.free_port()
        self.password = "pg-" + secrets.token_hex(12)
        self.durable = durable
        self.max_connections = max_connections
        self.shared_buffers = shared_buffers
        self.process: ManagedProcess | None = None
        self.bin = binaries()

    # -- addresses ---------------------------------------------------------------------------

    def url(self, database: str = SUPERUSER) -> str:
        """A URL for a node: TCP on loopback, with the password, no TLS."""
        return f"postgresql://{SUPERUSER}:{self.password}@{HOST}:{self.port}/{database}?sslmode=disable"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.work.chmod(0o755)
        password_file = self.work / "pwfile"
        password_file.write_text(self.password + "\n")
        if procs.is_root():
            shutil.chown(self.work, user=DATABASE_USER, group=DATABASE_USER)
            shutil.chown(password_file, user=DATABASE_USER, group=DATABASE_USER)
        initdb = procs.run(as_database_user([
            str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}", "--no-sync",
        ]), timeout=120, check=False)
        password_file.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed\n{procs.describe_result(initdb)}")
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(self.max_connections),
            "shared_buffers": self.shared_buffers,
            "work_mem": "4MB",
            "maintenance_work_mem": "32MB",
            "max_wal_size": "256MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] '",
        }
        if not self.durable:
            settings.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# The PostOffice test rig\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        self.process = ManagedProcess(as_database_user([str(self.bin / "postgres"), "-D", str(self.data)]),
                                      self.work / "postgres.log")
        self._wait_ready()
        self.psql(f"CREATE DATABASE {SUPERUSER}", database="postgres")

    def _wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.process.returncode}\n{self.log_text()}")
            ready = subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", str(self.socket_dir),
                                    "-p", str(self.port)], timeout=10)
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres was not ready within {timeout} s\n{self.log_text()}")
            time.sleep(0.1)

    def stop(self) -> int | None:
        """Fast shutdown by PID, then removes the directory. Idempotent."""
        status = None
        if self.process is not None:
            status = self.process.stop(signals=(signal.SIGINT, signal.SIGQUIT))
            self.process = None
        if not os.environ.get("INTEROP_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)
        return status

    def log_text(self) -> str:
        try:
            return (self.work / "postgres.log").read_text("utf-8", "replace")[-6000:]
        except OSError:
            return ""

    # -- SQL ---------------------------------------------------------------------------------

    def psql(self, sql: str, *, database: str = SUPERUSER, timeout: float = 60.0) -> str:
        """Runs `sql` over the socket as the superuser; returns unaligned, tuples-only output."""
        result = procs.run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER,
                            "-d", database, "-c", sql], timeout=timeout, check=False)
        if result.returncode != 0:
            raise AssertionError(procs.describe_result(result))
        return result.stdout.decode()

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its node URL."""
        self.psql(f'CREATE DATABASE "{name}"', database="postgres")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database="postgres")


def owner_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def serve(owner: int) -> int:
    """`postgres.py serve --owner PID`: start a server, print its URLs as one JSON line and
    return at once; the server keeps running in a detached process of ours until process PID
    (the test process) has ended, then is stopped by PID.

    The caller runs this to completion (no long-lived pipe, no child to wait for): the JSON
    line comes through a pipe from the detached process, which then lets go of every
    descriptor it was given, so the caller sees end of file when this process exits."""
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
        sys.stdout.write(data.decode())
        return 0 if b'"url"' in data else 1
    os.close(read_end)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(null, descriptor)
    server = PostgresServer()
    try:
        try:
            server.start()
        except Exception as error:  # noqa: BLE001 - reported to the caller
            os.write(write_end, (json.dumps({"error": str(error)[-2000:]}) + "\n").encode())
            return 1
        started = {"url": server.url(), "admin_url": server.url("postgres"),
                   "pid": server.process.pid if server.process else None, "work": str(server.work)}
        os.write(write_end, (json.dumps(started) + "\n").encode())
        os.close(write_end)
        while owner_alive(owner):
            time.sleep(0.5)
    finally:
        server.stop()
        os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1:3] != ["serve", "--owner"] or not sys.argv[3].isdigit():
        print("usage: postgres.py serve --owner PID", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(int(sys.argv[3])))
