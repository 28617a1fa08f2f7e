"""POP3 servers under test: PostOffice (`postoffice serve`) and Debian's Dovecot as the reference.

Both are started as our own children on free loopback ports, each with one plain port offering
STLS and one implicit-TLS port, a passwd-file and a Maildir tree per user at
`<work>/mail/<user>/Maildir`, and stopped by PID with SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from . import procs
from .procs import HOST, ManagedProcess
from .tls import TestPKI

MAILDIR_TEMPLATE = "mail/%u/Maildir"


class MailServer:
    kind = "abstract"

    def __init__(self, work: Path, pki: TestPKI, users: dict[str, str], *,
                 passwd_text: str | None = None, launcher: list[str] | None = None) -> None:
        """`users` maps names to passwords; the passwd-file is made from them unless
        `passwd_text` (ready-made passwd-file lines) is given. `launcher` prefixes the server's
        command line (the benchmarks pin it to a core with `taskset -c 0`)."""
        self.work = work
        self.pki = pki
        self.users = dict(users)
        self.passwd_text = passwd_text
        self.launcher = list(launcher or [])
        self.host = HOST
        self.pop3_port = procs.free_port()
        self.pop3s_port = procs.free_port()
        self.passwd_file = work / "passwd"
        self.maildir_template = str(work / MAILDIR_TEMPLATE)
        self.process: ManagedProcess | None = None
        (work / "mail").mkdir(parents=True, exist_ok=True)

    # -- mailboxes -------------------------------------------------------------------------

    def maildir(self, user: str) -> Path:
        return Path(self.maildir_template.replace("%u", user))

    def stored(self, user: str) -> list[Path]:
        """The message files in the user's Maildir (new/ and cur/), sorted by name."""
        found: list[Path] = []
        for sub in ("new", "cur"):
            directory = self.maildir(user) / sub
            if directory.is_dir():
                found.extend(p for p in directory.iterdir() if p.is_file())
        return sorted(found, key=lambda p: p.name)

    def stored_contents(self, user: str) -> list[bytes]:
        return [p.read_bytes() for p in self.stored(user)]

    def deliver(self, user: str, data: bytes) -> None:
        raise NotImplementedError

    def deliver_all(self, user: str, messages) -> None:
        for message in messages:
            self.deliver(user, message.data)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        raise NotImplementedError

    def log_text(self) -> str:
        return self.process.log_text() if self.process else ""

    def _wait_ready(self) -> None:
        assert self.process is not None
        for port in (self.pop3_port, self.pop3s_port):
            procs.wait_for_port(port, process=self.process.process, describe=self.log_text)

    def stop(self) -> int | None:
        """Stops the server by PID (SIGTERM, then SIGKILL after 10 s); returns its exit status."""
        if self.process is not None:
            return self.process.stop()
        return None

    def __repr__(self) -> str:
        return f"<{self.kind} pop3={self.pop3_port} pop3s={self.pop3s_port}>"


class DovecotServer(MailServer):
    """Debian's Dovecot with a generated, self-contained configuration (no system config)."""

    kind = "dovecot"

    def __init__(self, work: Path, pki: TestPKI, users: dict[str, str], *,
                 mechanisms: str = "plain login", extra_config: str = "", **options) -> None:
        """`extra_config` is appended to the generated configuration (settings and service
        blocks there add to or override the ones above)."""
        super().__init__(work, pki, users, **options)
        self.mechanisms = mechanisms
        self.extra_config = extra_config
        self._sequence = 0
        self._run_dir: Path | None = None

    def stop(self) -> int | None:
        try:
            return super().stop()
        finally:
            if self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)

    def deliver(self, user: str, data: bytes) -> None:
        # Delivery as an MDA does it (tmp/ then rename into new/), so Dovecot reads exactly these
        # bytes: no LDA rewriting, no CRLF conversion.
        maildir = self.maildir(user)
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{self._sequence}.interop"
        temporary = maildir / "tmp" / name
        temporary.write_bytes(data)
        os.rename(temporary, maildir / "new" / name)
        procs.chown_to_mail_user(self.work / "mail")

    def start(self) -> None:
        user = procs.mail_user()
        # Unix socket paths are limited to 107 bytes: keep the runtime directory short.
        run_dir = Path(tempfile.mkdtemp(prefix="dc-"))
        run_dir.chmod(0o755)
        self._run_dir = run_dir
        state_dir = self.work / "dovecot-state"
        state_dir.mkdir(exist_ok=True)
        if self.passwd_text is None:
            self.passwd_file.write_text("".join(f"{name}:{{PLAIN}}{password}\n"
                                                for name, password in self.users.items()))
        else:
            self.passwd_file.write_text(self.passwd_text)
        self.passwd_file.chmod(0o644)
        procs.chown_to_mail_user(self.work / "mail")
        config = self.work / "dovecot.conf"
        log = self.work / "dovecot.log"
        config.write_text(f"""
base_dir = {run_dir}
state_dir = {state_dir}
instance_name = interop-{secrets.token_hex(4)}
protocols = pop3
listen = {HOST}
log_path = {log}
info_log_path = {log}
ssl = yes
ssl_cert = <{self.pki.server_cert}
ssl_key = <{self.pki.server_key}
disable_plaintext_auth = no
auth_mechanisms = {self.mechanisms}
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:{self.work}/mail/%u/Maildir
first_valid_uid = {user.pw_uid}
mail_uid = {user.pw_uid}
mail_gid = {user.pw_gid}
pop3_uidl_format = %08Xu%08Xv
pop3_lock_session = yes
mail_max_lock_timeout = 1 secs
passdb {{
  driver = passwd-file
  args = {self.passwd_file}
}}
userdb {{
  driver = static
  args = uid={user.pw_uid} gid={user.pw_gid} home={self.work}/mail/%u
}}
# No growing delay for an address after failed logins (the "auth penalty").
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {HOST}
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = {HOST}
    port = {self.pop3s_port}
    ssl = yes
  }}
}}
{self.extra_config}
""")
        self.process = ManagedProcess([*self.launcher, tool("dovecot"), "-F", "-c", str(config)],
                                      self.work / "dovecot-stdout.log")
        self._wait_ready()

    def log_text(self) -> str:
        parts = []
        for name in ("dovecot-stdout.log", "dovecot.log"):
            path = self.work / name
            if path.exists():
                parts.append(path.read_text("utf-8", "replace")[-6000:])
        return "\n".join(parts)


class PostOfficeServer(MailServer):
    """`postoffice serve` from the binary under test."""

    kind = "postoffice"

    def __init__(self, work: Path, pki: TestPKI, users: dict[str, str], binary: Path, *,
                 extra_args: list[str] | None = None, **options) -> None:
        """`extra_args` go to `serve` after the listeners (`--lmtp ...`, `--config ...`)."""
        super().__init__(work, pki, users, **options)
        self.binary = binary
        self.extra_args = list(extra_args or [])

    def run_as_args(self) -> list[str]:
        """The suite's fixtures and their files belong to root when it runs as root: say so, as
        `serve` refuses to serve as root otherwise (test_operations.py covers the drop)."""
        return ["--run-as", "root"] if procs.is_root() else []

    def site_options(self) -> list[str]:
        return ["--maildir", self.maildir_template, "--passwd-file", str(self.passwd_file)]

    def deliver(self, user: str, data: bytes) -> None:
        self._ensure_passwd_file()  # deliver refuses users the passwd-file does not list
        procs.run([str(self.binary), "deliver", user, *self.site_options()], input=data, timeout=60)

    def _ensure_passwd_file(self) -> None:
        if self.passwd_file.exists():
            return
        if self.passwd_text is None:
            for name, password in self.users.items():
                add_user(self.binary, self.passwd_file, name, password)
            self.passwd_file.touch()
        else:
            self.passwd_file.write_text(self.passwd_text)
        # `serve` refuses a passwd-file every user may read.
        self.passwd_file.chmod(0o600)

    def start(self) -> None:
        self._ensure_passwd_file()
        self.process = ManagedProcess(
            [*self.launcher, str(self.binary), "serve", *self.site_options(),
             "--listen", f"{HOST}:{self.pop3_port}", "--listen-tls", f"{HOST}:{self.pop3s_port}",
             "--tls-cert", str(self.pki.server_cert), "--tls-key", str(self.pki.server_key),
             "--auth-failure-delay", "0", *self.run_as_args(), *self.extra_args],
            self.work / "postoffice-serve.log", cwd=self.work)
        self._wait_ready()


def add_user(binary: Path, passwd_file: Path, name: str, password: str, scheme: str | None = None) -> None:
    """`postoffice user add NAME --password-stdin --passwd-file PATH [--scheme SCHEME]`."""
    extra = ["--scheme", scheme] if scheme else []
    procs.run([str(binary), "user", "add", name, "--password-stdin", "--passwd-file", str(passwd_file), *extra],
              input=password.encode() + b"\n")


def find_binary() -> Path:
    """The postoffice binary: `$POSTOFFICE_BIN`, else `.build/debug/postoffice` in the package."""
    configured = os.environ.get("POSTOFFICE_BIN")
    if configured:
        path = Path(configured)
    else:
        path = Path(__file__).resolve().parents[3] / ".build" / "debug" / "postoffice"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise FileNotFoundError(f"postoffice binary not found at {path}: run `swift build` "
                                "or set POSTOFFICE_BIN")
    return path


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: run scripts/install-deps.sh")
    return found
