"""Several `postoffice serve` nodes on one PostgreSQL database, behind HAProxy.

The database is a fresh one on a `PostgresServer` of our own; `postoffice db migrate` makes its
schema and `postoffice user add --accounts URL` its accounts, as an operator would. Each node is
a `PostOfficeServer` whose site options name the database instead of a Maildir tree and a
passwd-file. The balancer's two frontends (plain with STLS, implicit TLS) have the nodes' PROXY
listeners behind them (`send-proxy-v2`, HAProxy trusted as 127.0.0.1), so the nodes see each
client's own address, and a `Cluster` looks to the clients in `harness.clients` like one server.
Each node also listens directly (its `pop3_port`, `pop3s_port`), for tests that pick a node.
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

    kind = "postoffice-postgresql"

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


class PostgresPostOfficeServer(PostgresNode):
    """One `serve` node on a fresh database of `pg`, for the tests that run against either store
    (`server` fixture kind `postoffice-postgresql`): what `PostOfficeServer` is to a Maildir tree.

    Accounts go into the database with `user add --accounts URL`, mail with `deliver --store
    URL`; `stored` and `stored_contents` read the user's maildrop from the tables, in delivery
    order, the contents as RETR sends them (CRLF line ends)."""

    kind = "postoffice-postgresql"

    def __init__(self, work: Path, pki: TestPKI, users: dict[str, str], binary: Path, pg: PostgresServer,
                 name: str, *, takeover_after: float = 60.0, extra_args: list[str] | None = None) -> None:
        self.pg = pg
        self.database = name
        super().__init__(work, pki, users, binary, pg.create_database(name), takeover_after=takeover_after,
                         extra_args=extra_args)
        self._accounts_ready = False

    def _ensure_accounts(self) -> None:
        if self._accounts_ready:
            return
        procs.run([str(self.binary), "db", "migrate", "--store", self.url], timeout=120)
        for name, password in self.users.items():
            procs.run([str(self.binary), "user", "add", name, "--password-stdin", "--accounts", self.url],
                      input=password.encode() + b"\n", timeout=120)
        self._accounts_ready = True

    def deliver(self, user: str, data: bytes) -> None:
        self._ensure_accounts()
        procs.run([str(self.binary), "deliver", user, *self.site_options()], input=data, timeout=60)

    def start(self) -> None:
        self._ensure_accounts()
        super().start()

    def drop_database(self) -> None:
        """After the last stop (a start may be retried on new ports)."""
        self.pg.drop_database(self.database)

    def _entries(self, user: str, column: str) -> list[str]:
        text = self.pg.psql(
            f"SELECT {column} FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id "
            f"WHERE m.name = '{user}' ORDER BY mm.id", database=self.database).strip()
        return text.split("\n") if text else []

    def stored(self, user: str) -> list[str]:
        """The UIDLs of the user's messages, in delivery order."""
        return self._entries(user, "mm.uidl")

    def stored_contents(self, user: str) -> list[bytes]:
        encoded = self._entries(
            user, "encode(mm.prefix || coalesce((SELECT string_agg(c.data, ''::bytea ORDER BY c.seq) "
                  "FROM message_chunks c WHERE c.message_id = mm.message_id), ''::bytea), 'hex')")
        return [bytes.fromhex(text) for text in encoded]


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
        self.takeover_after = takeover_after
        self.nodes = []
        for index in range(nodes):
            directory = work / f"node{index + 1}"
            directory.mkdir(mode=0o755)
            proxy_port, proxy_tls_port = procs.free_port(), procs.free_port()
            node = PostgresNode(directory, pki, users, binary, self.url, takeover_after=takeover_after,
                                extra_args=["--listen-proxy", f"{HOST}:{proxy_port}",
                                            "--listen-tls-proxy", f"{HOST}:{proxy_tls_port}",
                                            "--trusted-proxy", "127.0.0.1/32"])
            node.proxy_port, node.proxy_tls_port = proxy_port, proxy_tls_port
            self.nodes.append(node)
        self.balancer = HAProxy(work, {
            "pop3": ([node.proxy_port for node in self.nodes], "send-proxy-v2"),
            "pop3s": ([node.proxy_tls_port for node in self.nodes], "send-proxy-v2"),
        })

    @property
    def pop3_port(self) -> int:
        """The balancer's plain (STLS) port; known once it started."""
        return self.balancer.ports["pop3"]

    @property
    def pop3s_port(self) -> int:
        return self.balancer.ports["pop3s"]

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
            for port in (node.proxy_port, node.proxy_tls_port):
                procs.wait_for_port(port, process=node.process.process, describe=node.log_text)
        self.balancer.start()

    def stop(self) -> None:
        self.balancer.stop()
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
        parts.append(f"--- haproxy ---\n{self.balancer.log_text()}")
        return "\n".join(parts)
