"""Debian's HAProxy in TCP mode on loopback, in front of PostOffice's PROXY-protocol listeners.

Started with a configuration of its own (no system configuration, no stats socket, no daemon
mode: `-db` keeps it in the foreground) and stopped by PID.
"""

from __future__ import annotations

from pathlib import Path

from . import procs
from .procs import HOST, ManagedProcess
from .servers import tool


class HAProxy:
    """One frontend per route: `routes` maps a name to (backend port, `send-proxy` or
    `send-proxy-v2`). HAProxy connects to the backend from `source` (the trusted proxy)."""

    def __init__(self, work: Path, routes: dict[str, tuple[int, str]], *, source: str = HOST) -> None:
        self.work = work
        self.routes = routes
        self.source = source
        self.ports = {name: procs.free_port() for name in routes}
        self.config = work / "haproxy.cfg"
        self.process: ManagedProcess | None = None

    def write_config(self) -> None:
        lines = [
            "global",
            "    maxconn 200",
            "defaults",
            "    mode tcp",
            "    timeout connect 5s",
            "    timeout client 60s",
            "    timeout server 60s",
        ]
        for name, (backend_port, directive) in self.routes.items():
            lines += [
                f"frontend {name}",
                f"    bind {HOST}:{self.ports[name]}",
                f"    default_backend {name}_servers",
                f"backend {name}_servers",
                f"    server postoffice {HOST}:{backend_port} {directive} source {self.source}",
            ]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.write_config()
        haproxy = tool("haproxy")
        procs.run([haproxy, "-c", "-q", "-f", str(self.config)], timeout=30)
        self.process = ManagedProcess([haproxy, "-db", "-f", str(self.config)], self.work / "haproxy.log",
                                      cwd=self.work)
        for port in self.ports.values():
            procs.wait_for_port(port, process=self.process.process, describe=self.process.log_text)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
