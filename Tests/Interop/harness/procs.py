"""Child processes, ports and the unprivileged `vmail` user.

Every wait here is bounded; every child is started by us and stopped by its PID.
"""

from __future__ import annotations

import os
import pwd
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Sequence

HOST = "127.0.0.1"
MAIL_USER = "vmail"
DEFAULT_TIMEOUT = 30.0
#: Cap on one whole client run (a download of the corpus); the clients' own network timeouts
#: are 30 s per operation.
CLIENT_RUN_TIMEOUT = 120.0


#: Ports free_port() handed out in this process: never handed out twice.
_ports_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback TCP port that was free a moment ago, for a server a test starts next.

    Chosen below the kernel's range for outgoing connections: a port from that range (what
    binding port 0 gives) can be taken, between this check and the server's bind, as the local
    port of any outgoing connection (a client, a node's PostgreSQL pool), and the server then
    fails with "Address already in use". Never the same port twice in one run."""
    low, high = 10000, _ephemeral_low() - 1
    for _ in range(500) if high - low > 1000 else ():
        port = random.randint(low, high)
        if port in _ports_handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _ports_handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, process: subprocess.Popen | None = None, timeout: float = DEFAULT_TIMEOUT,
                  describe=lambda: "") -> None:
    """Waits until `HOST:port` accepts a TCP connection, failing early if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before port {port} opened\n{describe()}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} did not open within {timeout} s\n{describe()}")
        time.sleep(0.05)


def mail_user() -> pwd.struct_passwd:
    """The account that owns test mailboxes and runs clients that refuse root."""
    try:
        return pwd.getpwnam(MAIL_USER)
    except KeyError as error:
        raise RuntimeError(f"system user {MAIL_USER!r} is missing: run scripts/install-deps.sh") from error


def is_root() -> bool:
    return os.geteuid() == 0


def chown_to_mail_user(path: Path, *, recursive: bool = True) -> None:
    """Gives `path` (and, by default, everything below it) to the mail user when we are root."""
    if not is_root():
        return
    user = mail_user()
    os.chown(path, user.pw_uid, user.pw_gid)
    if recursive and path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def as_mail_user(argv: Sequence[str]) -> list[str]:
    """Prefixes `argv` so it runs as the mail user (when we are root; otherwise as ourselves)."""
    if not is_root():
        return list(argv)
    return ["setpriv", f"--reuid={MAIL_USER}", f"--regid={MAIL_USER}", "--init-groups", "--", *argv]


def run(argv: Sequence[str], *, input: bytes | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None, timeout: float = 120.0, check: bool = True,
        as_mail: bool = False) -> subprocess.CompletedProcess:
    """Runs a command to completion within `timeout`, capturing output.

    With `check`, a non-zero exit raises an AssertionError that shows the command's output.
    """
    command = as_mail_user(argv) if as_mail else list(argv)
    result = subprocess.run(command, input=input, env=env, cwd=cwd, timeout=timeout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=None if input is not None else subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(describe_result(result))
    return result


def describe_result(result: subprocess.CompletedProcess) -> str:
    def tail(data: bytes) -> str:
        text = data.decode("utf-8", "replace")
        return text[-4000:]
    return (f"command {result.args!r} exited with {result.returncode}\n"
            f"--- stdout ---\n{tail(result.stdout)}\n--- stderr ---\n{tail(result.stderr)}")


class ManagedProcess:
    """A long-running child whose output goes to a log file; stopped by PID with SIGTERM."""

    def __init__(self, argv: Sequence[str], log_path: Path, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, new_session: bool = False) -> None:
        """`new_session` starts the child in a session (and process group) of its own, for
        daemons that signal their whole process group when they stop (Postfix's master)."""
        self.argv = list(argv)
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")
        self.process = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                        start_new_session=new_session)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-8000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0,
             signals: Sequence[int] = (signal.SIGTERM,)) -> int | None:
        """Sends each of `signals` in turn (SIGTERM by default), waiting up to `timeout` after
        each, then SIGKILL. Returns the exit status."""
        for signum in [*signals, signal.SIGKILL]:
            if self.process.poll() is not None:
                break
            try:
                os.kill(self.process.pid, signum)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        return self.process.returncode
