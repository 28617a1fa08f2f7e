"""`postoffice fetch` (the client under test) against both servers: Dovecot, the reference, and
`postoffice serve`.

What `postoffice fetch` alters in saved mail, and how the comparison undoes it:
* it prepends `Received:` and `X-PostOffice-UIDL:` trace fields (mbox entries also
  `X-PostOffice-Key:`, after the `From ` line): stripped;
* local copies have LF line ends (Maildir, mbox and the MDA's standard input): compared with LF;
* mbox: entries are `From ` line, fields, message, blank line; body lines matching `>*From ` are
  quoted mboxrd-style: the parser below splits entries and unquotes.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from harness import corpus, procs
from harness.clients import save_script
from harness.compare import assert_saved_equal, directory_files, maildir_messages

STRIP = ("Received", "X-PostOffice-UIDL", "X-PostOffice-Key")


def check(messages, saved):
    assert_saved_equal(messages, saved, client="postoffice fetch", line_end="lf", strip=STRIP)


class Fetch:
    def __init__(self, binary: Path, home: Path, server, pki, user: str, password: str) -> None:
        self.binary = binary
        self.home = home
        self.server = server
        self.pki = pki
        self.user = user
        self.password_file = home / "password"
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self.state = home / "state.sqlite"

    def run(self, to: str, *options: str, mode: str = "implicit", trust: tuple[str, ...] | None = None,
            check: bool = True):
        port = self.server.pop3s_port if mode == "implicit" else self.server.pop3_port
        trust = trust if trust is not None else ("--ca-file", str(self.pki.ca_cert))
        argv = [str(self.binary), "fetch", "--host", self.server.host, "--port", str(port), "--tls", mode,
                "--user", self.user, "--password-file", str(self.password_file), "--to", to,
                "--state", str(self.state), *trust, *options]
        return procs.run(argv, check=check, timeout=procs.CLIENT_RUN_TIMEOUT, cwd=self.home)


@pytest.fixture
def fetch(postoffice_bin, client_dir, server, pki, users):
    return Fetch(postoffice_bin, client_dir, server, pki, "alice", users["alice"])


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_fetch_to_maildir_downloads_all_and_deletes(fetch, server, client_dir, mode):
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    maildir = client_dir / "Maildir"
    fetch.run(f"maildir:{maildir}", mode=mode)
    check(messages, maildir_messages(maildir))
    assert server.stored("alice") == []
    for name in (maildir / "new").iterdir():  # ,S= is the file size (Maildir++ / Dovecot)
        size = re.search(r",S=(\d+)", name.name)
        assert size and int(size.group(1)) == name.stat().st_size, name.name


def test_fetch_keep_then_state_prevents_duplicates(fetch, server, client_dir):
    messages = corpus.standard()[:7]
    server.deliver_all("alice", messages)
    maildir = client_dir / "Maildir"
    fetch.run(f"maildir:{maildir}", "--keep")
    check(messages, maildir_messages(maildir))
    assert len(server.stored("alice")) == len(messages)
    fetch.run(f"maildir:{maildir}", "--keep")
    check(messages, maildir_messages(maildir))  # still one copy each
    extra = corpus.small(42)
    server.deliver("alice", extra.data)
    fetch.run(f"maildir:{maildir}", "--keep")
    check(messages + [extra], maildir_messages(maildir))
    assert len(server.stored("alice")) == len(messages) + 1


def test_fetch_keep_days_zero_downloads_once_and_deletes(fetch, server, client_dir):
    messages = corpus.standard()[:5]
    server.deliver_all("alice", messages)
    maildir = client_dir / "Maildir"
    fetch.run(f"maildir:{maildir}", "--keep-days", "0")
    check(messages, maildir_messages(maildir))
    # Kept for zero days: gone from the server by the next run at the latest, never duplicated.
    fetch.run(f"maildir:{maildir}", "--keep-days", "0")
    assert server.stored("alice") == []
    check(messages, maildir_messages(maildir))


def test_fetch_keep_days_leaves_recent_mail(fetch, server, client_dir):
    messages = corpus.standard()[:3]
    server.deliver_all("alice", messages)
    maildir = client_dir / "Maildir"
    for _ in range(2):
        fetch.run(f"maildir:{maildir}", "--keep-days", "30")
    check(messages, maildir_messages(maildir))
    assert len(server.stored("alice")) == 3


def test_fetch_to_mbox(fetch, server, client_dir):
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    mbox = client_dir / "inbox.mbox"
    fetch.run(f"mbox:{mbox}")
    check(messages, split_mboxrd(mbox.read_bytes()))
    assert server.stored("alice") == []


def test_fetch_to_mda(fetch, server, client_dir):
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    inbox = client_dir / "inbox"
    inbox.mkdir()
    fetch.run(f"mda:{save_script(client_dir)} {inbox}")
    check(messages, directory_files(inbox))
    assert server.stored("alice") == []


def test_fetch_many_small_messages(fetch, server, client_dir):
    messages = corpus.many_small(200)
    server.deliver_all("alice", messages)
    maildir = client_dir / "Maildir"
    fetch.run(f"maildir:{maildir}", mode="starttls")
    check(messages, maildir_messages(maildir))
    assert server.stored("alice") == []


def test_fetch_with_pinned_fingerprint(fetch, server, client_dir, pki):
    messages = corpus.standard()[:2]
    server.deliver_all("alice", messages)
    maildir = client_dir / "Maildir"
    fetch.run(f"maildir:{maildir}", trust=("--fingerprint", pki.server_sha256))
    check(messages, maildir_messages(maildir))


def test_fetch_refuses_an_untrusted_server_and_changes_nothing(fetch, server, client_dir, other_pki):
    server.deliver_all("alice", corpus.standard()[:2])
    maildir = client_dir / "Maildir"
    result = fetch.run(f"maildir:{maildir}", trust=("--ca-file", str(other_pki.ca_cert)), check=False)
    assert result.returncode != 0, procs.describe_result(result)
    assert maildir_messages(maildir) == []
    assert len(server.stored("alice")) == 2


def test_fetch_wrong_password_changes_nothing(fetch, server, client_dir):
    server.deliver_all("alice", corpus.standard()[:2])
    # A password no path contains (the test's directory is named after the test, and fetch
    # prints where its password file and state are).
    wrong = "not-" + secrets.token_hex(8)
    fetch.password_file.write_text(wrong + "\n")
    maildir = client_dir / "Maildir"
    result = fetch.run(f"maildir:{maildir}", check=False)
    assert result.returncode != 0, procs.describe_result(result)
    assert wrong.encode() not in result.stdout + result.stderr, "the password must not be logged"
    assert maildir_messages(maildir) == []
    assert len(server.stored("alice")) == 2


def split_mboxrd(data: bytes) -> list[bytes]:
    """Entries of an mboxrd file: each starts with a `From ` line (at the start or after a blank
    line) and ends with one blank separator line; `>From `-quoting is undone (one `>` removed)."""
    entries: list[list[bytes]] = []
    previous_blank = True
    for line in data.splitlines(keepends=True):
        if previous_blank and line.startswith(b"From "):
            entries.append([])
        elif entries:
            entries[-1].append(line)
        else:
            raise AssertionError(f"mbox does not start with a From line: {line[:80]!r}")
        previous_blank = line == b"\n"
    messages = []
    for lines in entries:
        assert lines and lines[-1] == b"\n", "each mbox entry ends with a blank line"
        body = b"".join(re.sub(rb"^>(>*From )", rb"\1", line) for line in lines[:-1])
        messages.append(body)
    return messages
