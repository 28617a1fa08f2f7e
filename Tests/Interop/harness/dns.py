"""A test DNS server: Debian's dnsmasq with a configuration of its own (no system resolver, no
/etc/hosts, no upstream), answering SRV and address records for test domains and NXDOMAIN for
any other name under them."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path

from .procs import ManagedProcess
from .servers import tool


@dataclass
class Zone:
    """Records of the test DNS server."""
    #: Domains answered locally: unknown names under them get NXDOMAIN.
    domains: list[str] = field(default_factory=list)
    #: (name, target, port, priority, weight)
    srv: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    #: name -> IPv4 address
    addresses: dict[str, str] = field(default_factory=dict)

    def config(self, port: int, listen: str = "127.0.0.1") -> str:
        lines = [f"port={port}", f"listen-address={listen}", "bind-interfaces", "no-resolv", "no-hosts",
                 "no-poll", "no-negcache", "log-queries",
                 # As ourselves: a dnsmasq that changed to another user may not be stopped by us.
                 f"user={pwd.getpwuid(os.getuid()).pw_name}"]
        lines += [f"local=/{domain}/" for domain in self.domains]
        lines += [f"srv-host={name},{target},{port_},{priority},{weight}"
                  for name, target, port_, priority, weight in self.srv]
        lines += [f"host-record={name},{address}" for name, address in self.addresses.items()]
        return "\n".join(lines) + "\n"


def dnsmasq_argv(config_file: Path) -> list[str]:
    """dnsmasq in the foreground, logging to standard error, with only `config_file`."""
    return [tool("dnsmasq"), "--keep-in-foreground", "--log-facility=-", "--pid-file=",
            f"--conf-file={config_file}"]


def start_dnsmasq(start, zone: Zone, directory: Path, *, port: int = 53) -> ManagedProcess:
    """Starts dnsmasq through `start(argv, log, port=, udp=True)` (a NetworkNamespace's)."""
    config = directory / "dnsmasq.conf"
    config.write_text(zone.config(port))
    return start(dnsmasq_argv(config), directory / "dnsmasq.log", port=port, udp=True)
