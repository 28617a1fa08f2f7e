"""A private network namespace for a test, with its own resolver.

Account discovery probes the standard ports (995, 110, 443) and asks the system's resolver;
the README walk-through starts `postoffice serve` on its fixed ports. Inside a namespace of their
own these run on 127.0.0.1 without colliding with anything else on the machine, and
`/etc/resolv.conf` can point at a test DNS server: `ip netns exec` mounts the files of
`/etc/netns/NAME/` over `/etc/` for the processes it starts (ip-netns(8)).

Needs root (the suite runs as root in CI). Every process started here is ours and stopped by PID;
the namespace and its `/etc/netns` directory are removed at the end.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Sequence

from . import procs
from .procs import ManagedProcess

ETC_NETNS = Path("/etc/netns")


class NetworkNamespace:
    def __init__(self, *, nameserver: str | None = "127.0.0.1") -> None:
        if not procs.is_root():
            raise RuntimeError("these tests need root (a network namespace of their own); CI runs them as root")
        self.name = "po-" + secrets.token_hex(4)
        self.processes: list[ManagedProcess] = []
        procs.run(["ip", "netns", "add", self.name])
        self.etc = ETC_NETNS / self.name
        try:
            procs.run(self.wrap(["ip", "link", "set", "lo", "up"]))
            if nameserver is not None:
                self.etc.mkdir(parents=True)
                (self.etc / "resolv.conf").write_text(f"nameserver {nameserver}\n")
        except BaseException:
            self.close()
            raise

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """`argv` as run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **options) -> subprocess.CompletedProcess:
        return procs.run(self.wrap(argv), **options)

    def start(self, argv: Sequence[str], log: Path, *, port: int | None = None, udp: bool = False,
              **options) -> ManagedProcess:
        """Starts a long-running child in the namespace; waits until `port` accepts connections
        (or, with `udp`, until a UDP socket is bound to it)."""
        process = ManagedProcess(self.wrap(argv), log, **options)
        self.processes.append(process)
        if port is not None:
            self.wait_for_port(port, process, udp=udp)
        return process

    def wait_for_port(self, port: int, process: ManagedProcess, *, udp: bool = False,
                      timeout: float = procs.DEFAULT_TIMEOUT) -> None:
        """Polls `ss` inside the namespace until something listens on 127.0.0.1:`port`."""
        deadline = time.monotonic() + timeout
        flags = "-lnu" if udp else "-lnt"
        while True:
            if process.process.poll() is not None:
                raise RuntimeError(f"{process.argv!r} exited with {process.process.returncode} before port "
                                   f"{port} opened\n{process.log_text()}")
            listing = self.run(["ss", flags, f"sport = :{port}"], check=False).stdout.decode()
            if f":{port}" in listing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"port {port} did not open within {timeout} s\n{process.log_text()}")
            time.sleep(0.1)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        subprocess.run(["ip", "netns", "del", self.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        try:
            ETC_NETNS.rmdir()  # only when no other namespace of ours is left
        except OSError:
            pass
