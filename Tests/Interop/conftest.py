"""Fixtures of the PostOffice interop suite.

`server` is parametrised over `dovecot` (Debian's Dovecot, the reference) and `postoffice` (the
binary under test), so `-k dovecot` runs the suite against the reference alone. A test module
that sets `ALSO_ON_POSTGRESQL = True` runs its `server` tests a third time, `postoffice-postgresql`:
one node whose mail and accounts are in PostgreSQL (a server of our own, started once per run),
so the same tests pass on either store.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from harness import procs
from harness.cluster import PostgresPostOfficeServer
from harness.postgres import PostgresServer
from harness.servers import DovecotServer, PostOfficeServer, find_binary
from harness.tls import make_pki

SERVER_KINDS = ["dovecot", "postoffice"]


@pytest.fixture(scope="session")
def work_root():
    # Not pytest's tmp_path: its root is mode 0700, and Dovecot's processes and clients running
    # as the mail user must reach these directories.
    root = Path(tempfile.mkdtemp(prefix="postoffice-interop-"))
    root.chmod(0o755)
    yield root
    if not os.environ.get("INTEROP_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pki(work_root):
    return make_pki(work_root / "pki")


@pytest.fixture(scope="session")
def other_pki(work_root):
    """A second, unrelated CA: clients trusting only it must refuse the server."""
    return make_pki(work_root / "other-pki")


@pytest.fixture
def workdir(work_root, request):
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    directory = Path(tempfile.mkdtemp(prefix=name + "-", dir=work_root))
    directory.chmod(0o755)
    yield directory
    if not os.environ.get("INTEROP_KEEP"):
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def client_dir(workdir):
    """A directory owned by the mail user, for client configuration and saved mail."""
    directory = workdir / "client"
    directory.mkdir(mode=0o755)
    procs.chown_to_mail_user(directory)
    return directory


@pytest.fixture(scope="session")
def postoffice_bin():
    return find_binary()


@pytest.fixture
def users():
    return {"alice": "pw-" + secrets.token_hex(8), "bob": "pw-" + secrets.token_hex(8)}


def pytest_generate_tests(metafunc):
    if "server" in metafunc.fixturenames:
        kinds = list(SERVER_KINDS)
        if getattr(metafunc.module, "ALSO_ON_POSTGRESQL", False):
            kinds.append("postoffice-postgresql")
        metafunc.parametrize("server", kinds, indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server of our own for the run; each test gets a database of its own."""
    instance = PostgresServer()
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def server(request, workdir, pki, users):
    directory = workdir / "server"
    directory.mkdir(mode=0o755)
    if request.param == "dovecot":
        instance = DovecotServer(directory, pki, users)
    elif request.param == "postoffice-postgresql":
        instance = PostgresPostOfficeServer(directory, pki, users, request.getfixturevalue("postoffice_bin"),
                                            request.getfixturevalue("postgres_server"),
                                            "po_" + secrets.token_hex(6))
    else:
        instance = PostOfficeServer(directory, pki, users, request.getfixturevalue("postoffice_bin"))
    try:
        start_with_free_ports(instance)
        yield instance
    finally:
        instance.stop()
        if isinstance(instance, PostgresPostOfficeServer):
            instance.drop_database()


def start_with_free_ports(instance, attempts: int = 3) -> None:
    """Starts a server; if a port picked as free was taken meanwhile, picks new ones and retries."""
    for attempt in range(attempts):
        try:
            instance.start()
            return
        except (RuntimeError, TimeoutError):
            log = instance.log_text().lower()
            instance.stop()
            if attempt + 1 == attempts or "in use" not in log:
                raise
            instance.pop3_port = procs.free_port()
            instance.pop3s_port = procs.free_port()
