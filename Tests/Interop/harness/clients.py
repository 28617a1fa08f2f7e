"""Configuration and invocation of real POP3 clients, each run as the mail user in its own
directory (configuration, state and saved mail), with a bounded run time."""

from __future__ import annotations

import os
from pathlib import Path

from . import procs
from .servers import tool

SAVE_SCRIPT = """#!/bin/sh
# MDA for the interop suite: stores the message on stdin, unchanged, in a new file in $1.
set -e
file=$(mktemp "$1/msg.XXXXXXXXXX")
cat > "$file"
"""


def client_env(home: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "USER": procs.MAIL_USER, "LOGNAME": procs.MAIL_USER}
    env.update(extra)
    return env


def write_private(path: Path, text: str) -> None:
    """Writes a file holding a password: mode 0600, owned by the user who runs the client."""
    path.write_text(text)
    path.chmod(0o600)
    procs.chown_to_mail_user(path, recursive=False)


def make_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    procs.chown_to_mail_user(path)
    return path


def make_maildir(path: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    procs.chown_to_mail_user(path)
    return path


def save_script(directory: Path) -> Path:
    script = directory / "save-message"
    script.write_text(SAVE_SCRIPT)
    script.chmod(0o755)
    return script


class Fetchmail:
    """fetchmail, configured by a generated run-control file and FETCHMAILHOME (which also holds
    its UIDL memory, `.fetchids`); delivery through an MDA that saves each message to a file."""

    def __init__(self, home: Path, server, pki, user: str, password: str, *, mode: str, keep: bool) -> None:
        self.home = make_dir(home)
        self.inbox = make_dir(home / "inbox")
        mda = f"{save_script(home)} {self.inbox}"
        port = server.pop3s_port if mode == "pop3s" else server.pop3_port
        # fetchmail matches only DNS names of the certificate, not IP addresses: sslcommonname.
        tls = "ssl" if mode == "pop3s" else 'sslproto "TLS1.2+"'  # TLS1.2+ without ssl: STLS, required
        write_private(home / "fetchmailrc", f"""set no syslog
set no bouncemail
poll {server.host} protocol POP3 port {port} timeout 30
    user "{user}" there with password "{password}" is "{procs.MAIL_USER}" here
    options {"keep" if keep else "no keep"}
    {tls} sslcertck sslcertfile "{pki.ca_cert}" sslcommonname "localhost"
    mda "{mda}"
""")

    def run(self, check_codes=(0,)):
        result = procs.run([tool("fetchmail"), "--nodetach", "-d0", "-v", "-f", str(self.home / "fetchmailrc")],
                           env=client_env(self.home, FETCHMAILHOME=str(self.home)),
                           as_mail=True, check=False, timeout=procs.CLIENT_RUN_TIMEOUT)
        if result.returncode not in check_codes:
            raise AssertionError(procs.describe_result(result))
        return result

    def saved(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.inbox.iterdir())]


class Mpop:
    """mpop, configured by a generated file (`-C`), delivering into a Maildir; its UIDL memory is
    `uidls_file` in its directory."""

    def __init__(self, home: Path, server, pki, user: str, password: str, *, mode: str, keep: bool,
                 auth: str = "user", password_eval: bool = False) -> None:
        self.home = make_dir(home)
        self.maildir = make_maildir(home / "Maildir")
        port = server.pop3s_port if mode == "pop3s" else server.pop3_port
        if password_eval:
            write_private(home / "password", password + "\n")
            secret = f'passwordeval "cat {home / "password"}"'
        else:
            secret = f'password "{password}"'
        self.config = home / "mpoprc"
        write_private(self.config, f"""defaults
timeout 30
tls on
tls_starttls {"off" if mode == "pop3s" else "on"}
tls_trust_file {pki.ca_cert}

account interop
host {server.host}
port {port}
auth {auth}
user {user}
{secret}
delivery maildir {self.maildir}
keep {"on" if keep else "off"}
uidls_file {home / "uidls"}
""")

    def run(self, check_codes=(0,)):
        result = procs.run([tool("mpop"), "-C", str(self.config), "interop"],
                           env=client_env(self.home), as_mail=True, check=False, timeout=procs.CLIENT_RUN_TIMEOUT)
        if result.returncode not in check_codes:
            raise AssertionError(procs.describe_result(result))
        return result

    def saved(self) -> list[bytes]:
        from .compare import maildir_messages
        return maildir_messages(self.maildir)


# scripts/install-deps.sh installs getmail6 6.20 here: Debian's 6.18 can lose a delivery child's
# exit and fail the run after 60 s (upstream issues 226 and 245).
GETMAIL6_VENV_TOOL = Path("/opt/postoffice-interop/getmail6/bin/getmail")


def getmail_tool() -> str:
    if not GETMAIL6_VENV_TOOL.exists():
        raise FileNotFoundError(f"{GETMAIL6_VENV_TOOL} is missing: run scripts/install-deps.sh")
    return str(GETMAIL6_VENV_TOOL)


class Getmail:
    """getmail6 with a generated rc file and its own --getmaildir (which holds its UIDL memory,
    `oldmail-*`), delivering into a Maildir. getmail6 has no STLS for POP3: implicit TLS only
    (SimplePOP3SSLRetriever)."""

    def __init__(self, home: Path, server, pki, user: str, password: str, *, keep: bool,
                 read_all: bool = False) -> None:
        self.home = make_dir(home)
        self.maildir = make_maildir(home / "Maildir")
        self.rc = home / "getmailrc"
        write_private(self.rc, f"""[retriever]
type = SimplePOP3SSLRetriever
server = {server.host}
port = {server.pop3s_port}
username = {user}
password = {password}
ca_certs = {pki.ca_cert}
timeout = 30

[destination]
type = Maildir
path = {self.maildir}/

[options]
verbose = 1
delete = {"false" if keep else "true"}
read_all = {"true" if read_all else "false"}
""")

    def run(self, check_codes=(0,)):
        result = procs.run([getmail_tool(), "--getmaildir", str(self.home), "--rcfile", str(self.rc)],
                           env=client_env(self.home), as_mail=True, check=False, timeout=procs.CLIENT_RUN_TIMEOUT)
        if result.returncode not in check_codes:
            raise AssertionError(procs.describe_result(result))
        return result

    def saved(self) -> list[bytes]:
        from .compare import maildir_messages
        return maildir_messages(self.maildir)
