"""Several `postoffice serve` nodes on one PostgreSQL database, behind HAProxy.

The database is a fresh one on a `PostgresServer` of our own; `postoffice db migrate` makes its
schema and `postoffice user add --accounts URL` its accounts, as an operator would. Each node is
a `PostOfficeServer` whose site options name the database instead of a Maildir tree and a
passwd-file. The balancer's two frontends (plain with STLS, implicit TLS) have the nodes' ports
behind them, so a `Cluster` looks to the clients in `harness.clients` like one server.
"""

from __future__ import annotations

import signal
from pathlib import Path

from . import procs
from .haproxy import HAProxy
from .postgres import PostgresServer
from .procs import HOST
from .servers import PostOfficeServer
from .tls import TestPKI


class PostgresNode(PostOfficeServer):
    """`postoffice serve --store URL --accounts URL` (accounts are already in the database)."""

    kind = "postoffice-pg"

    def __init__(self, work: Path, pki: TestPKI, users: dict[str, str], binary: Path, url: str, *,
                 takeover_after: float, extra_args: list[str] | None = None) -> None:
        super().__init__(work, pki, users, binary,
                         extra_args=["--takeover-after", str(takeover_after), *(extra_args or [])])
        self.url = url

    def site_options(self) -> list[str]:
        return ["--store", self.url, "--accounts", self.url]

    def _ensure_passwd_file(self) -> None:
        pass

    def kill(self) -> int | None:
        """SIGKILL: the node dies mid-whatever, as a crashed machine would."""
        if self.process is None:
            return None
        status = self.process.stop(timeout=10.0, signals=(signal.SIGKILL,))
        self.process = None
        return status


class Cluster:
    """`nodes` nodes on database `name` of `pg`, and HAProxy in front of them."""

    def __init__(self, work: Path, pki: TestPKI, users: dict[str, str], binary: Path, pg: PostgresServer,
                 name: str, *, nodes: int = 2, takeover_after: float = 3.0) -> None:
        self.work = work
        self.pki = pki
        self.users = dict(users)
        self.binary = binary
        self.pg = pg
        self.database = name
        self.url = pg.create_database(name)
        self.host = HOST
        self.pop3_port = procs.free_port()
        self.pop3s_port = procs.free_port()
        self.takeover_after = takeover_after
        self.nodes = []
        for index in range(nodes):
            directory = work / f"node{index + 1}"
            directory.mkdir(mode=0o755)
            self.nodes.append(PostgresNode(directory, pki, users, binary, self.url, takeover_after=takeover_after))
        self.balancer: HAProxy | None = None

    # -- set-up ------------------------------------------------------------------------------

    def postoffice(self, *args: str, input: bytes | None = None, check: bool = True):
        return procs.run([str(self.binary), *args], input=input, check=check, timeout=120)

    def start(self) -> None:
        self.postoffice("db", "migrate", "--store", self.url)
        for name, password in self.users.items():
            self.postoffice("user", "add", name, "--password-stdin", "--accounts", self.url,
                            input=password.encode() + b"\n")
        for node in self.nodes:
            node.start()
        self.balancer = HAProxy({
            "pop3": (self.pop3_port, [node.pop3_port for node in self.nodes]),
            "pop3s": (self.pop3s_port, [node.pop3s_port for node in self.nodes]),
        })
        self.balancer.start()

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
            self.balancer = None
        for node in self.nodes:
            node.stop()
        self.pg.drop_database(self.database)

    # -- mail --------------------------------------------------------------------------------

    def deliver(self, user: str, data: bytes) -> None:
        self.postoffice("deliver", user, "--store", self.url, "--accounts", self.url, input=data)

    def deliver_all(self, user: str, messages) -> None:
        for message in messages:
            self.deliver(user, message.data)

    def sql(self, query: str) -> str:
        return self.pg.psql(query, database=self.database).strip()

    def stored_count(self, user: str) -> int:
        return int(self.sql(
            "SELECT count(*) FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id "
            f"WHERE m.name = '{user}'"))

    def stored_uidls(self, user: str) -> list[str]:
        text = self.sql(
            "SELECT mm.uidl FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id "
            f"WHERE m.name = '{user}' ORDER BY mm.id")
        return text.split("\n") if text else []

    def stored(self, user: str) -> list[str]:
        """The user's messages by UIDL (what `MailServer.stored` is to a Maildir)."""
        return self.stored_uidls(user)

    def log_text(self) -> str:
        parts = [f"--- node {index + 1} ---\n{node.log_text()}" for index, node in enumerate(self.nodes)]
        if self.balancer is not None:
            parts.append(f"--- haproxy ---\n{self.balancer.log_text()}")
        return "\n".join(parts)
