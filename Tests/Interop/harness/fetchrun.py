"""Driving `postoffice fetch` as a real process, and checking what it left behind.

Used by the crash and command-line suites (test_fetch_crash.py, test_fetch_cli.py). Every run has
a bounded timeout; every child is started here and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Iterable

from . import procs
from .corpus import Message, message_id
from .compare import strip_prepended_fields, to_line_end

#: Trace fields `postoffice fetch` prepends to every stored message.
TRACE_FIELDS = ("Received", "X-PostOffice-UIDL", "X-PostOffice-Key")
#: The delivery command of the `mda` target: one file per delivery (so a duplicate shows), named
#: `-dup1` when fetch says it may be a duplicate (`POSTOFFICE_POSSIBLE_DUPLICATE`).
MDA_COMMAND = "cat > '{directory}/'$(date +%s%N)-$$-dup${{POSTOFFICE_POSSIBLE_DUPLICATE:-0}}"
#: The exit status `POSTOFFICE_FAULT` makes the process end with (as if SIGKILLed).
FAULT_EXIT = 137
RUN_TIMEOUT = 120.0


class FetchClient:
    """One account's `postoffice fetch` command line against a `MailServer`."""

    def __init__(self, binary: Path, home: Path, server, pki, user: str, password: str, *,
                 target: str = "maildir") -> None:
        self.binary = binary
        self.home = home
        self.server = server
        self.pki = pki
        self.user = user
        self.password_file = home / f"password-{user}"
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self.state = home / f"state-{user}.sqlite"
        self.target_kind = target
        self.target_path = home / {"maildir": "Maildir", "mbox": "inbox.mbox", "mda": "mda-delivered"}[target]
        if target == "mda":
            self.target_path.mkdir(exist_ok=True)

    @property
    def to(self) -> str:
        if self.target_kind == "mda":
            return f"mda:{MDA_COMMAND.format(directory=self.target_path)}"
        return f"{self.target_kind}:{self.target_path}"

    def argv(self, *options: str, port: int | None = None, host: str | None = None,
             trust: tuple[str, ...] | None = None, mode: str = "implicit") -> list[str]:
        if port is None:
            port = self.server.pop3s_port if mode == "implicit" else self.server.pop3_port
        trust = trust if trust is not None else ("--ca-file", str(self.pki.ca_cert))
        return [str(self.binary), "fetch", "--host", host or self.server.host, "--port", str(port),
                "--tls", mode, "--user", self.user, "--password-file", str(self.password_file),
                "--to", self.to, "--state", str(self.state), *trust, *options]

    def run(self, *options: str, fault: str | None = None, timeout: float = RUN_TIMEOUT,
            expect: int | None = 0, **argv_options) -> subprocess.CompletedProcess:
        """Runs to completion; asserts the exit status when `expect` is not None."""
        result = subprocess.run(self.argv(*options, **argv_options), env=fault_env(fault), cwd=self.home,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=timeout)
        if expect is not None:
            assert result.returncode == expect, procs.describe_result(result)
        return result

    def report(self, *options: str, **kwargs) -> dict:
        """Runs with `--json` (expecting success) and returns the account's summary."""
        result = self.run("--json", *options, **kwargs)
        return json_report(result)

    def start(self, *options: str, fault: str | None = None, **argv_options) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*options, **argv_options), env=fault_env(fault), cwd=self.home,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def saved(self) -> list[bytes]:
        return saved_messages(self.target_kind, self.target_path)

    def leftovers(self) -> list[Path]:
        """Temporary files a finished run must not leave: Maildir `tmp/`, mbox and MDA spool files."""
        if self.target_kind == "maildir":
            tmp = self.target_path / "tmp"
            return sorted(tmp.iterdir()) if tmp.is_dir() else []
        if self.target_kind == "mda":
            return sorted(self.state.parent.glob(".postoffice-mda-*.tmp"))
        pattern = "." + self.target_path.name + ".postoffice-*.tmp"
        return sorted(self.target_path.parent.glob(pattern))

    def told_possible_duplicates(self) -> list[bytes]:
        """Message-IDs of the deliveries the command was told may be duplicates (MDA only)."""
        return ids_of([path.read_bytes() for path in sorted(self.target_path.glob("*-dup1"))])


def fault_env(fault: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "POSTOFFICE_FAULT"}
    if fault:
        env["POSTOFFICE_FAULT"] = fault
    return env


def json_report(result: subprocess.CompletedProcess) -> dict:
    try:
        document = json.loads(result.stdout)
    except ValueError as error:
        raise AssertionError(f"--json did not print JSON ({error})\n{procs.describe_result(result)}")
    accounts = document["accounts"]
    assert len(accounts) == 1, document
    return accounts[0]


def wait_process(process: subprocess.Popen, timeout: float) -> tuple[int, bytes, bytes]:
    """Waits (bounded) for a child; SIGKILLs it by PID and fails if it overstays."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate(timeout=10)
        raise AssertionError(f"{process.args!r} did not finish within {timeout} s\n"
                             f"{stderr.decode('utf-8', 'replace')[-3000:]}")
    return process.returncode, stdout, stderr


# -- delivery --------------------------------------------------------------------------------

_sequence = 0


def deliver_files(server, user: str, messages: Iterable[Message]) -> None:
    """Delivers as an MDA does (tmp/ then rename into new/): fast for many messages. Any
    Maildir-serving server reads these like its own deliveries."""
    global _sequence
    maildir = server.maildir(user)
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for message in messages:
        _sequence += 1
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{_sequence}.fetchtest,S={len(message.data)}"
        temporary = maildir / "tmp" / name
        temporary.write_bytes(message.data)
        os.rename(temporary, maildir / "new" / name)
    procs.chown_to_mail_user(server.work / "mail")


def server_ids(server, user: str) -> list[bytes]:
    """Message-IDs of the messages in the server's Maildir (files may vanish while reading)."""
    found = []
    for path in server.stored(user):
        try:
            found.append(message_id(path.read_bytes()))
        except FileNotFoundError:
            continue
    return found


# -- what the client saved -------------------------------------------------------------------

def saved_messages(kind: str, path: Path) -> list[bytes]:
    if kind == "maildir":
        found = []
        for sub in ("new", "cur"):
            directory = path / sub
            if directory.is_dir():
                found.extend(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())
        return found
    if kind == "mbox":
        return mbox_entries(path.read_bytes()) if path.exists() else []
    if kind == "mda":
        return [p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()] if path.is_dir() else []
    raise ValueError(kind)


def mbox_entries(data: bytes) -> list[bytes]:
    """Splits an mboxrd file (entries: `From ` line, message, one blank line) and undoes the
    `>From ` quoting of body lines."""
    entries: list[bytes] = []
    if not data:
        return entries
    assert data.startswith(b"From "), f"mbox does not start with a From line: {data[:80]!r}"
    # An entry starts at a `From ` line that follows a blank line (or the start of the file).
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    for begin, end in zip(starts, starts[1:] + [len(data)]):
        chunk = data[begin:end]
        first_newline = chunk.index(b"\n")
        body = chunk[first_newline + 1:]
        assert body.endswith(b"\n\n") or (end == len(data) and body.endswith(b"\n")), \
            f"an mbox entry does not end with a blank line: {body[-80:]!r}"
        body = body[:-1]
        entries.append(re.sub(rb"(?m)^>(>*From )", rb"\1", body))
    return entries


def ids_of(saved: list[bytes]) -> list[bytes]:
    return [message_id(strip_prepended_fields(data, TRACE_FIELDS)) for data in saved]


def assert_exactly_once(messages: list[Message], saved: list[bytes], *, context: str = "") -> None:
    """Each message saved exactly once (by Message-ID), nothing else saved, and each copy equal
    to what was delivered apart from the trace fields fetch prepends and LF line ends."""
    problems = []
    by_id: dict[bytes, list[bytes]] = {}
    for data in saved:
        body = strip_prepended_fields(data, TRACE_FIELDS)
        by_id.setdefault(message_id(body), []).append(body)
    expected = {m.message_id for m in messages}
    for key in sorted(set(by_id) - expected):
        problems.append(f"unexpected message {key!r}")
    for message in messages:
        copies = by_id.get(message.message_id, [])
        if len(copies) != 1:
            problems.append(f"{message.name}: {len(copies)} copies")
        elif copies[0] != to_line_end(message.wire, "lf"):
            problems.append(f"{message.name}: content differs ({len(copies[0])} vs {len(message.wire)} bytes)")
    if problems:
        raise AssertionError(f"{context}: " + "; ".join(problems[:20]))


def assert_no_loss_no_duplicate(messages: list[Message], saved: list[bytes], on_server: list[bytes], *,
                                context: str = "", duplicates_allowed: int = 0) -> None:
    """The invariant at any instant: no message saved twice, and each one either saved locally
    or still on the server (DESIGN.md, invariants 1 and 2). A delivery command cannot be asked
    what it has: `duplicates_allowed` extra copies (one per interrupted run at most)."""
    local = ids_of(saved)
    extra = len(local) - len(set(local))
    duplicates = sorted({i for i in local if local.count(i) > 1})
    assert extra <= duplicates_allowed, f"{context}: saved twice: {duplicates[:10]}"
    missing = sorted({m.message_id for m in messages} - set(local) - set(on_server))
    assert not missing, f"{context}: neither saved nor on the server: {missing[:10]}"
