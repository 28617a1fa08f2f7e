"""`postoffice fetch` on defaults (issue 10): with flags alone, mail goes to the Maildir
`postoffice mail` reads and the state under the XDG state directory, keyed by user@host:port;
HOME and the XDG variables decide the paths; --to and --state still override. Errors name the
fix. `--install-timer` writes systemd user units that systemd-analyze accepts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness import corpus, procs
from harness.fetchrun import assert_exactly_once, deliver_files
from harness.servers import PostOfficeServer

HARNESS = Path(__file__).resolve().parent / "harness"
EXIT_NETWORK, EXIT_TLS, EXIT_AUTH, EXIT_CONFIG = 69, 76, 77, 78


@pytest.fixture
def our_server(workdir, pki, users, postoffice_bin):
    directory = workdir / "server"
    directory.mkdir()
    server = PostOfficeServer(directory, pki, users, postoffice_bin)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Person:
    """Someone with a fresh HOME running `postoffice`."""

    def __init__(self, binary: Path, home: Path, **xdg: str) -> None:
        self.binary = binary
        self.home = home
        home.mkdir(mode=0o700, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k != "POSTOFFICE_FAULT"}
        self.env.update(HOME=str(home), **xdg)

    def run(self, *arguments: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        return procs.run([str(self.binary), *arguments], env=self.env, cwd=self.home, input=input, check=False,
                         timeout=procs.CLIENT_RUN_TIMEOUT)

    def password_file(self, password: str) -> str:
        path = self.home / "pw"
        path.write_text(password + "\n")
        path.chmod(0o600)
        return str(path)


def output(result) -> str:
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def fetch_flags(server, pki, person: Person, password: str, *extra: str) -> list[str]:
    return ["fetch", "--host", server.host, "--port", str(server.pop3s_port), "--user", "alice",
            "--password-file", person.password_file(password), "--ca-file", str(pki.ca_cert), *extra]


def maildir_files(maildir: Path) -> list[bytes]:
    return [p.read_bytes() for sub in ("new", "cur") if (maildir / sub).is_dir()
            for p in sorted((maildir / sub).iterdir())]


def test_flags_alone_fetch_into_the_mailbox_mail_reads(our_server, pki, users, workdir, postoffice_bin):
    messages = [corpus.small(1), corpus.small(2)]
    deliver_files(our_server, "alice", messages)
    person = Person(postoffice_bin, workdir / "home")
    first = person.run(*fetch_flags(our_server, pki, person, users["alice"]))
    text = output(first)
    assert first.returncode == 0, text
    maildir = person.home / ".local" / "share" / "postoffice" / "mail"
    state = person.home / ".local" / "state" / "postoffice" / f"alice@{our_server.host}:{our_server.pop3s_port}.state"
    assert f"mail in Maildir {maildir}" in text and f"state in {state}" in text, text
    assert state.exists()
    assert_exactly_once(messages, maildir_files(maildir))
    listing = person.run("mail", "list")
    assert listing.returncode == 0 and b"message 1" in listing.stdout and b"message 2" in listing.stdout, output(listing)
    # The state keeps the second run from fetching anything twice.
    deliver_files(our_server, "alice", [corpus.small(3)])
    second = person.run(*fetch_flags(our_server, pki, person, users["alice"]))
    assert second.returncode == 0 and b"1 downloaded" in second.stdout, output(second)
    assert_exactly_once(messages + [corpus.small(3)], maildir_files(maildir))


def test_xdg_variables_decide_the_default_paths(our_server, pki, users, workdir, postoffice_bin):
    deliver_files(our_server, "alice", [corpus.small(1)])
    data, state = workdir / "xdg-data", workdir / "xdg-state"
    person = Person(postoffice_bin, workdir / "home", XDG_DATA_HOME=str(data), XDG_STATE_HOME=str(state))
    result = person.run(*fetch_flags(our_server, pki, person, users["alice"]))
    assert result.returncode == 0, output(result)
    assert len(maildir_files(data / "postoffice" / "mail")) == 1
    assert list((state / "postoffice").glob("alice@*.state"))
    assert not (person.home / ".local").exists()
    assert b"message 1" in person.run("mail", "list").stdout


def test_to_and_state_still_override(our_server, pki, users, workdir, postoffice_bin):
    deliver_files(our_server, "alice", [corpus.small(1)])
    person = Person(postoffice_bin, workdir / "home")
    target, state = workdir / "Inbox", workdir / "alice.state"
    result = person.run(*fetch_flags(our_server, pki, person, users["alice"], "--to", f"maildir:{target}",
                                     "--state", str(state)))
    assert result.returncode == 0, output(result)
    assert len(maildir_files(target)) == 1 and state.exists()
    assert not (person.home / ".local").exists()


def test_fetch_with_nothing_configured_says_how_to_begin(workdir, postoffice_bin):
    result = Person(postoffice_bin, workdir / "home").run("fetch")
    assert result.returncode == EXIT_CONFIG
    assert b"postoffice account add ADDRESS" in result.stderr, output(result)


# -- errors name the fix -------------------------------------------------------------------------

def test_wrong_password_names_the_password_file(our_server, pki, workdir, postoffice_bin):
    person = Person(postoffice_bin, workdir / "home")
    result = person.run(*fetch_flags(our_server, pki, person, "not-the-password"))
    assert result.returncode == EXIT_AUTH, output(result)
    assert f"check the password in {person.home / 'pw'} and the user name (alice)".encode() in result.stderr


def test_unknown_host_asks_to_check_the_name(pki, workdir, postoffice_bin):
    person = Person(postoffice_bin, workdir / "home")
    result = person.run("fetch", "--host", "nosuch.invalid", "--user", "alice", "--password-file",
                        person.password_file("x"))
    assert result.returncode == EXIT_NETWORK, output(result)
    assert b"could not be resolved" in result.stderr and b"check the host name" in result.stderr, output(result)
    assert b"postoffice account add ADDRESS" in result.stderr


def test_server_without_stls_points_to_implicit_tls(workdir, postoffice_bin):
    port = procs.free_port()
    server = procs.ManagedProcess([sys.executable, str(HARNESS / "plain_pop3.py"), "--port", str(port),
                                   "--user", "alice", "--password", "secret"], workdir / "plain.log")
    try:
        procs.wait_for_port(port, process=server.process)
        person = Person(postoffice_bin, workdir / "home")
        result = person.run("fetch", "--host", "127.0.0.1", "--port", str(port), "--tls", "starttls", "--user",
                            "alice", "--password-file", person.password_file("secret"))
        assert result.returncode == EXIT_TLS, output(result)
        assert b"does not offer STLS" in result.stderr and b"--tls implicit" in result.stderr, output(result)
    finally:
        server.stop()


# -- the timer ---------------------------------------------------------------------------------

def test_install_timer_writes_units_that_run_this_fetch(workdir, postoffice_bin):
    person = Person(postoffice_bin, workdir / "home")
    config = person.home / "work.toml"
    result = person.run("fetch", "--install-timer", "--interval", "10m", "--config", str(config))
    assert result.returncode == 0, output(result)
    units = person.home / ".config" / "systemd" / "user"
    service = (units / "postoffice-fetch.service").read_text()
    timer = (units / "postoffice-fetch.timer").read_text()
    assert f"ExecStart={postoffice_bin} fetch --config {config}\n" in service, service
    assert "Type=oneshot\n" in service and "OnUnitActiveSec=10min\n" in timer and "WantedBy=timers.target" in timer
    text = output(result)
    assert "systemctl --user enable --now postoffice-fetch.timer" in text
    assert f"*/10 * * * * cd {person.home} && {postoffice_bin} fetch --config {config}" in text, text
    # systemd's own check of the two units, as the user manager would load them, where systemd
    # is installed (the runtime directory path is kept short: other user units put sockets there).
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    runtime = Path(tempfile.mkdtemp(prefix="rt-"))
    try:
        verify = procs.run([analyze, "--user", "verify",
                            str(units / "postoffice-fetch.timer"), str(units / "postoffice-fetch.service")],
                           env={**person.env, "XDG_RUNTIME_DIR": str(runtime)}, check=False)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    complaints = [line for line in output(verify).splitlines() if "postoffice-fetch" in line]
    assert verify.returncode == 0 and not complaints, output(verify)


def test_print_shows_the_units_and_writes_nothing(workdir, postoffice_bin):
    person = Person(postoffice_bin, workdir / "home")
    result = person.run("fetch", "--install-timer", "--print")
    assert result.returncode == 0, output(result)
    assert b"[Timer]\nOnBootSec=1min\nOnUnitActiveSec=5min\n" in result.stdout
    assert f"ExecStart={postoffice_bin} fetch\n".encode() in result.stdout
    assert not (person.home / ".config").exists()
    refused = person.run("fetch", "--print")
    assert refused.returncode != 0 and b"--install-timer" in refused.stderr
