"""Mail domains for account-discovery tests, each inside its own network namespace: a DNS server
answering for the domain (the namespace's system resolver), `postoffice serve` on the standard
ports 995 and 110, and optionally an HTTPS server with autoconfig files, all on 127.0.0.1 of
that namespace. The client under test runs in the namespace too, with a fresh HOME."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import procs
from .dns import Zone, start_dnsmasq
from .netns import NetworkNamespace
from .servers import PostOfficeServer
from .tls import TestPKI, issue_certificate

HARNESS = Path(__file__).resolve().parent
#: Standard ports inside the namespace (RFC 8314 §7.1, RFC 1939 §3, HTTPS).
POP3S, POP3, HTTPS = 995, 110, 443


class NamespacedPostOffice(PostOfficeServer):
    """`postoffice serve` inside a namespace, on chosen ports (default: the standard ones)."""

    def __init__(self, namespace: NetworkNamespace, work: Path, pki: TestPKI, users, binary, *,
                 plain: int | None = POP3, implicit: int | None = POP3S) -> None:
        super().__init__(work, pki, users, binary)
        self.namespace = namespace
        self.plain_port, self.implicit_port = plain, implicit

    def start(self) -> None:
        self._ensure_passwd_file()
        argv = [str(self.binary), "serve", *self.site_options(), "--tls-cert", str(self.pki.server_cert),
                "--tls-key", str(self.pki.server_key), "--auth-failure-delay", "0", *self.run_as_args()]
        if self.plain_port:
            argv += ["--listen", f"127.0.0.1:{self.plain_port}"]
        if self.implicit_port:
            argv += ["--listen-tls", f"127.0.0.1:{self.implicit_port}"]
        self.process = self.namespace.start(argv, self.work / "postoffice-serve.log", cwd=self.work,
                                            port=self.plain_port or self.implicit_port)
        if self.plain_port and self.implicit_port:
            self.namespace.wait_for_port(self.implicit_port, self.process)

    def stop(self):
        return None  # the namespace stops its processes


class Site:
    """One namespace with a DNS server, and what a test adds to it."""

    def __init__(self, work: Path, binary: Path, zone: Zone) -> None:
        self.work = work
        self.binary = binary
        self.zone = zone
        work.mkdir(parents=True, exist_ok=True)
        self.namespace = NetworkNamespace()
        try:
            self.dns = start_dnsmasq(self.namespace.start, zone, work)
        except BaseException:
            self.namespace.close()
            raise
        self.home = work / "home"
        self.home.mkdir(mode=0o700)

    def close(self) -> None:
        self.namespace.close()

    # -- servers -------------------------------------------------------------------------------

    def postoffice(self, pki: TestPKI, users: dict[str, str], **ports) -> NamespacedPostOffice:
        directory = self.work / "server"
        directory.mkdir(exist_ok=True)
        server = NamespacedPostOffice(self.namespace, directory, pki, users, self.binary, **ports)
        server.start()
        return server

    def https(self, pki: TestPKI, files: dict[str, str]) -> Path:
        """Serves `files` (path -> text) over HTTPS on port 443 with `pki`'s certificate."""
        root = self.work / "www"
        for path, text in files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.namespace.start([sys.executable, str(HARNESS / "https_files.py"), "--port", str(HTTPS),
                              "--cert", str(pki.server_cert), "--key", str(pki.server_key), "--root", str(root)],
                             self.work / "https.log", port=HTTPS)
        return root

    def plain_pop3(self, user: str, password: str, port: int = POP3) -> None:
        """A POP3 server that offers no TLS at all."""
        self.namespace.start([sys.executable, str(HARNESS / "plain_pop3.py"), "--port", str(port),
                              "--user", user, "--password", password], self.work / "plain-pop3.log", port=port)

    def certificate(self, pki: TestPKI | None, names: str, stem: str) -> TestPKI:
        return issue_certificate(self.work / "certs", pki, names, stem=stem)

    # -- the client ----------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """HOME of its own; no XDG variable, so every default path derives from HOME."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k != "POSTOFFICE_FAULT"}
        env["HOME"] = str(self.home)
        return env

    def postoffice_run(self, *arguments: str, input: bytes | None = None, check: bool = False):
        return self.namespace.run([str(self.binary), *arguments], env=self.env(), cwd=self.home, input=input,
                                  check=check, timeout=procs.CLIENT_RUN_TIMEOUT)

    def argv(self, *arguments: str) -> list[str]:
        return self.namespace.wrap([str(self.binary), *arguments])

    @property
    def fetch_toml(self) -> Path:
        return self.home / ".config" / "postoffice" / "fetch.toml"

    @property
    def maildir(self) -> Path:
        return self.home / ".local" / "share" / "postoffice" / "mail"
