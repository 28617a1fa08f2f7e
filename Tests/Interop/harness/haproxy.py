"""Debian's HAProxy in TCP mode on loopback: in front of PostOffice's PROXY-protocol listeners,
and as the balancer in front of several `serve` nodes (the scale-out rig).

Started with a configuration of its own in the test's directory (no system configuration, no
stats socket, no daemon mode: `-db` keeps it in the foreground), listening on free loopback
ports only, and stopped by PID. The machine's HAProxy, if any, is never touched. POP3 passes
through untouched (TCP mode): TLS, STLS included, ends at the servers.
"""

from __future__ import annotations

from pathlib import Path

from . import procs
from .procs import HOST, ManagedProcess
from .servers import tool


class HAProxy:
    """One frontend per route: `routes` maps a name to (backend, directive).

    The backend is one port, or a list of ports (the nodes) that HAProxy balances round robin
    with health checks: a node that stops answering is marked down within a second, and a
    connection it refuses is sent to another (`option redispatch`, `retries`), so a killed node
    costs a client a retry at most. `directive` is `send-proxy`, `send-proxy-v2` or "" (no
    PROXY header); health checks send the header too. HAProxy connects to the backends from
    `source` (the trusted proxy). Each frontend listens on `ports[name]`."""

    def __init__(self, work: Path, routes: dict[str, tuple[int | list[int], str]], *, source: str = HOST) -> None:
        self.work = work
        self.routes = routes
        self.source = source
        self.ports = {name: procs.free_port() for name in routes}
        self.config = work / "haproxy.cfg"
        self.process: ManagedProcess | None = None

    def write_config(self) -> None:
        lines = [
            "global",
            "    maxconn 4096",
            "defaults",
            "    mode tcp",
            "    timeout connect 5s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout check 2s",
            "    retries 3",
            "    option redispatch",
        ]
        for name, (backend, directive) in self.routes.items():
            lines += [
                f"frontend {name}",
                f"    bind {HOST}:{self.ports[name]}",
                f"    default_backend {name}_servers",
                f"backend {name}_servers",
                "    balance roundrobin",
            ]
            if isinstance(backend, list):
                check = " check inter 300ms fall 2 rise 2" + (" check-send-proxy" if directive else "")
                lines += [f"    server node{index + 1} {HOST}:{port} {directive} source {self.source}{check}"
                          for index, port in enumerate(backend)]
            else:
                lines.append(f"    server postoffice {HOST}:{backend} {directive} source {self.source}")
        self.config.write_text("\n".join(lines) + "\n")

    def start(self, attempts: int = 3) -> None:
        """Starts HAProxy; a frontend port taken meanwhile (by any process's outgoing connection:
        free ports come from the ephemeral range) gets new ports and another try."""
        haproxy = tool("haproxy")
        for attempt in range(attempts):
            self.write_config()
            procs.run([haproxy, "-c", "-q", "-f", str(self.config)], timeout=30)
            self.process = ManagedProcess([haproxy, "-db", "-f", str(self.config)], self.work / "haproxy.log",
                                          cwd=self.work)
            try:
                for port in self.ports.values():
                    procs.wait_for_port(port, process=self.process.process, describe=self.process.log_text)
                return
            except RuntimeError:
                taken = "Address already in use" in self.process.log_text()
                self.stop()
                if not taken or attempt + 1 == attempts:
                    raise
                self.ports = {name: procs.free_port() for name in self.routes}

    def log_text(self) -> str:
        return self.process.log_text() if self.process else ""

    def stop(self) -> int | None:
        status = self.process.stop() if self.process is not None else None
        self.process = None
        return status
