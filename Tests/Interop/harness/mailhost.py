"""A mail host as an administrator runs one: a data directory, passwd-file and certificate that
belong to the service user, and `postoffice serve` started on them as root (it drops to that
user). Shared by the operations tests and the end-to-end mail-host test.

Also the small readers those tests use: the ids of a process from /proc, a Prometheus text
scrape, and `openssl s_client` holding a POP3S session open.
"""

from __future__ import annotations

import os
import poplib
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from . import procs
from .servers import add_user, tool

TIMEOUT = 30


def require_root() -> None:
    assert procs.is_root(), "these tests start `serve` as root, as CI does (run the suite as root)"


def free_privileged_port() -> int:
    """A loopback port below 1024 that was free a moment ago."""
    for port in range(600, 1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((procs.HOST, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port below 1024")


def ids(pid: int, field: str) -> list[int]:
    """The real, effective, saved and filesystem ids of `field` (Uid or Gid) of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return [int(value) for value in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class Site:
    """A data directory, passwd-file and certificate, and `serve` started on them."""

    def __init__(self, workdir: Path, pki, users: dict[str, str], binary: Path, *, owner: str | None) -> None:
        """`owner`: the user the site's files belong to (the server reads them after its drop)."""
        self.work = workdir / "site"
        self.work.mkdir(mode=0o755)
        self.binary = binary
        self.users = users
        self.pki = pki
        self.passwd = self.work / "passwd"
        for name, password in users.items():
            add_user(binary, self.passwd, name, password)
        self.data = self.work / "postoffice-data"
        self.data.mkdir(mode=0o750)
        self.tls_dir = self.work / "tls"
        self.tls_dir.mkdir()
        self.cert = self.tls_dir / "cert.pem"
        self.key = self.tls_dir / "key.pem"
        shutil.copy(pki.server_cert, self.cert)
        shutil.copy(pki.server_key, self.key)
        self.cert.chmod(0o644)
        self.key.chmod(0o640)
        self.passwd.chmod(0o640)
        self.socket_dir = Path(tempfile.mkdtemp(prefix="ops-", dir="/tmp"))
        self.socket_dir.chmod(0o755)
        self.lmtp_socket = self.socket_dir / "lmtp.sock"
        self.admin_socket = self.socket_dir / "admin.sock"
        if owner:
            user = pwd.getpwnam(owner)
            os.chown(self.data, user.pw_uid, user.pw_gid)
            for path in (self.passwd, self.key):
                os.chown(path, 0, user.pw_gid)
        self.pop3_port = procs.free_port()
        self.pop3s_port = procs.free_port()
        self.process: procs.ManagedProcess | None = None

    def args(self, *, passwd: bool = True) -> list[str]:
        """The site options; without `passwd`, the passwd-file is the configuration file's."""
        return ["--maildir", str(self.data / "mail/%u/Maildir"),
                *(["--passwd-file", str(self.passwd)] if passwd else []),
                "--admin-socket", str(self.admin_socket)]

    def start(self, *extra: str, plain_port: int | None = None, passwd: bool = True) -> None:
        self.pop3_port = plain_port or self.pop3_port
        argv = [str(self.binary), "serve", *self.args(passwd=passwd),
                "--listen", f"{procs.HOST}:{self.pop3_port}", "--listen-tls", f"{procs.HOST}:{self.pop3s_port}",
                "--tls-cert", str(self.cert), "--tls-key", str(self.key), "--auth-failure-delay", "0", *extra]
        self.process = procs.ManagedProcess(argv, self.work / "serve.log", cwd=self.work)
        for port in (self.pop3_port, self.pop3s_port):
            procs.wait_for_port(port, process=self.process.process, describe=self.log)
        # A bound port takes connections into its backlog before the server serves (after its
        # privilege drop): it announces its listeners then.
        self.wait_for_log("listening on")

    def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while text not in self.log():
            assert self.process.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def reload(self, *, expect: str) -> None:
        """SIGHUP (what `systemctl reload` sends), then waits for `expect` in the log."""
        os.kill(self.process.pid, signal.SIGHUP)
        self.wait_for_log(expect)

    def log(self) -> str:
        return self.process.log_text() if self.process else ""

    def stop(self) -> int | None:
        status = self.process.stop() if self.process else None
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        return status

    def pop3(self, user: str = "alice") -> poplib.POP3:
        client = poplib.POP3(procs.HOST, self.pop3_port, timeout=TIMEOUT)
        client.user(user)
        client.pass_(self.users[user])
        return client

    def command(self, *argv: str, as_user: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        command = [str(self.binary), *argv]
        if as_user:
            command = [tool("setpriv"), f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", "--", *command]
        return procs.run(command, cwd=self.work, check=check, timeout=60)

    def scrape(self, port: int) -> str:
        result = procs.run([tool("curl"), "-sS", "--max-time", "10", f"http://{procs.HOST}:{port}/metrics"])
        return result.stdout.decode()



def metric(text: str, name: str, labels: str = "") -> float:
    pattern = "^" + re.escape(name + ("{" + labels + "}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, flags=re.M)
    assert found, f"{name}{{{labels}}} missing from\n{text}"
    return float(found.group(1))



class SClient:
    """`openssl s_client` holding one POP3S session open; lines read with a deadline."""

    def __init__(self, port: int, ca: Path) -> None:
        self.process = subprocess.Popen(
            [tool("openssl"), "s_client", "-connect", f"{procs.HOST}:{port}", "-CAfile", str(ca),
             "-verify_return_error", "-crlf", "-ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buffer = b""
        self.preamble = self.until(lambda line: line.startswith(b"+OK"))

    def line(self) -> bytes:
        deadline = time.monotonic() + TIMEOUT
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"s_client said nothing for {TIMEOUT} s; so far: {self.buffer!r}"
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                assert chunk, f"s_client ended; so far: {self.buffer!r}"
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def until(self, done) -> list[bytes]:
        lines = []
        while True:
            lines.append(self.line())
            if done(lines[-1]):
                return lines

    def command(self, text: str) -> bytes:
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()
        return self.line()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def subject(preamble: list[bytes]) -> bytes:
    return next(line for line in preamble if line.startswith(b"subject="))


