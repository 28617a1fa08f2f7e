"""The README's walk-through, replayed as written: every command of its fenced `sh` blocks in
"Five minutes with PostOffice" runs, in order, against the server "The two commands" starts,
in a fresh HOME, on a pseudo-terminal where prompts are answered as a reader would (the
password they chose, Enter for the defaults). So the walk-through never rots.

The words the README asks the reader to fill in are filled in the same way: PASSWORD is the
password given to `user add`, ID the first ID the latest `mail search` printed, and the ports
are 995/110 instead of 1995/1110 when `serve` says it listens there (it does, as root, in the
test's network namespace).
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import pytest

from harness import terminal
from harness.netns import NetworkNamespace

README = Path(__file__).resolve().parents[2] / "README.md"
WALKTHROUGH = "## Five minutes with PostOffice"
SERVE = "swift run postoffice serve"

#: `swift run postoffice ARGS` in the README runs the binary under test. The replay runs as
#: root (for the standard ports in its namespace), where `serve` refuses to serve as root
#: unless told to: a reader runs it as themself, so the replay says `--run-as root` for them.
#: `serve` replaces the shell (`exec`), so stopping the server's process by its PID stops
#: `serve` itself, not only a shell that would leave it running.
PRELUDE = """
swift() {
  if [ "$1" = run ] && [ "$2" = postoffice ] && [ "$3" = serve ] && [ "$(id -u)" = 0 ]; then
    shift 3; exec "$POSTOFFICE_BIN" serve --run-as root "$@"
  elif [ "$1" = run ] && [ "$2" = postoffice ]; then shift 2; "$POSTOFFICE_BIN" "$@"
  else echo "README replay: expected 'swift run postoffice ...', got: swift $*" >&2; return 2; fi
}
postoffice() { "$POSTOFFICE_BIN" "$@"; }
set -o pipefail
"""
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def fenced_blocks(text: str, language: str = "sh") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """Shell commands of a block: comments and blank lines dropped, `\\` continuations and
    here-documents kept with their command."""
    lines = block.split("\n")
    found: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        command = line
        while command.rstrip().endswith("\\") and index < len(lines):
            command += "\n" + lines[index]
            index += 1
        heredoc = re.search(r"<<\s*'?([A-Za-z_]+)'?", command)
        if heredoc:
            while index < len(lines):
                command += "\n" + lines[index]
                index += 1
                if lines[index - 1] == heredoc.group(1):
                    break
        found.append(command)
    return found


def test_the_walkthrough_parses_into_the_steps_it_promises():
    """The replay below depends on these: the walk-through covers the server side, account add,
    fetch, and the reading commands the issue lists."""
    text = README.read_text()
    assert SERVE in section(text, "## The two commands")
    steps = [c for block in fenced_blocks(section(text, WALKTHROUGH)) for c in commands(block)]
    joined = "\n".join(steps)
    for expected in ["user add alice", "deliver alice", "account add", "postoffice fetch", "mail list",
                     "mail search", "mail show ID", "mail attachments ID --save", "mail export"]:
        assert expected in joined, f"the walk-through lost {expected!r}"
    assert commands("a \\\n  b\n# c\n\nd <<'X'\ne\nX\nf") == ["a \\\n  b", "d <<'X'\ne\nX", "f"]


@pytest.fixture
def namespace():
    ns = NetworkNamespace()
    try:
        yield ns
    finally:
        ns.close()


def test_readme_walkthrough_runs_as_written(namespace, workdir, postoffice_bin):
    text = README.read_text()
    home = workdir / "home"
    home.mkdir(mode=0o700)
    here = workdir / "walk"
    here.mkdir()
    password = "walk-" + secrets.token_hex(6)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home),
           "POSTOFFICE_BIN": str(postoffice_bin), "LANG": "C.UTF-8", "PAGER": "cat", "TERM": "dumb"}

    # "The two commands": the server, in the background, in this directory.
    server = namespace.start(["bash", "-c", PRELUDE + SERVE], workdir / "serve.log", cwd=here, env=env)
    listening = wait_for_listening(server)
    ports = {"1995": "995", "1110": "110"} if "127.0.0.1:995" in listening else {}

    respond = terminal.answers((r"(?i)password.*: $", password), (r"^Again: $", password), (r"\]: $", ""))
    message_id = None
    ran = []
    for block in fenced_blocks(section(text, WALKTHROUGH)):
        for command in commands(block):
            concrete = command.replace("PASSWORD", password)
            for old, new in ports.items():
                concrete = concrete.replace(old, new)
            if re.search(r"\bID\b", concrete):
                assert message_id, f"{command!r} needs an ID, but no `mail search` printed one before it"
                concrete = re.sub(r"\bID\b", message_id, concrete)
            result = terminal.run(namespace.wrap(["bash", "-c", PRELUDE + concrete]), respond, env=env, cwd=here)
            assert result.returncode == 0, f"README command failed: {command}\n{result.describe()}"
            ran.append((command, result))
            if "mail search" in command:
                message_id = first_id(result.output)

    # What the walk-through promises the reader ends up with.
    assert any("Logged in as alice: 2 messages" in r.output for c, r in ran if "account add" in c), ran
    fetched = next(r.output for c, r in ran if re.search(r"postoffice fetch\b", c))
    assert "2 downloaded" in fetched and str(home / ".local/share/postoffice/mail") in fetched, fetched
    # The line end before a MIME boundary belongs to the boundary (RFC 2046 §5.1.1).
    assert (home / "Downloads" / "invoice.txt").read_text() == "Total: 42 EUR"
    exported = (here / "alice.mbox").read_text()
    assert "Subject: Hello" in exported and "Subject: Invoice 42" in exported
    server_mail = here / "postoffice-data" / "mail" / "alice" / "Maildir"
    assert [p for sub in ("new", "cur") for p in (server_mail / sub).iterdir()] == [], "fetch deletes on the server"
    shown = next(r.output for c, r in ran if "mail show" in c)
    assert "Invoice 42" in shown and "invoice.txt" in shown


def wait_for_listening(process, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = process.log_text()
        if log.count("listening on") >= 2:
            return log
        if process.process.poll() is not None:
            raise AssertionError(f"serve exited with {process.process.returncode}\n{log}")
        time.sleep(0.1)
    raise AssertionError(f"serve did not say where it listens within {timeout} s\n{process.log_text()}")


def first_id(output: str) -> str | None:
    for line in ANSI.sub("", output).splitlines():
        match = re.match(r"\s*([0-9a-f]{8,})\s", line)
        if match:
            return match.group(1)
    return None
