#!/usr/bin/env python3
"""Downloading and deleting 1,000 small messages (about 4 KB) into a Maildir, over implicit TLS on
loopback: `postoffice fetch` against mpop, from `postoffice serve` and from Dovecot (issue 7,
the client table).

Usage (as root, like the interop suite: Dovecot and mpop run as the mail user):

    Benchmarks/fetch-small-messages.py [--count 1000] [--rounds 3] [--binary PATH] [--server-binary PATH]

`--binary` is the `postoffice` whose `fetch` is measured (a release build:
`swift build -c release --product postoffice`); `--server-binary` serves (default: the same).
Each round delivers the messages afresh and times one full run of each client, interleaved;
the table shows the median and the range of the rounds. Every run is checked: all messages
saved, the server's Maildir empty.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))

from harness import corpus, procs  # noqa: E402
from harness.clients import Mpop  # noqa: E402
from harness.fetchrun import deliver_files, saved_messages  # noqa: E402
from harness.servers import DovecotServer, PostOfficeServer  # noqa: E402
from harness.tls import make_pki  # noqa: E402


def message(index: int) -> corpus.Message:
    """A plain message of about 4 KB with a unique Message-ID."""
    base = corpus.small(index)
    filler = b"".join(b"%04d the quick brown fox jumps over the lazy dog, again and again and again\n" % line
                      for line in range(48))
    return corpus.Message(base.name, base.data + filler)


def fetch_command(binary: Path, home: Path, server, pki, password_file: Path) -> list[str]:
    return [str(binary), "fetch", "--host", server.host, "--port", str(server.pop3s_port), "--tls", "implicit",
            "--user", "alice", "--password-file", str(password_file), "--ca-file", str(pki.ca_cert),
            "--to", f"maildir:{home / 'Maildir'}", "--state", str(home / "state.sqlite")]


def timed(run) -> float:
    started = time.monotonic()
    run()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "postoffice")
    parser.add_argument("--server-binary", type=Path)
    arguments = parser.parse_args()
    server_binary = arguments.server_binary or arguments.binary
    messages = [message(i) for i in range(arguments.count)]
    work = Path(tempfile.mkdtemp(prefix="postoffice-fetch-bench-"))
    work.chmod(0o755)
    pki = make_pki(work / "pki")
    password = "pw-" + secrets.token_hex(8)
    results: dict[tuple[str, str], list[float]] = {}
    servers = {}
    try:
        for kind in ("postoffice", "dovecot"):
            directory = work / kind
            directory.mkdir(mode=0o755)
            server = (PostOfficeServer(directory, pki, {"alice": password}, server_binary) if kind == "postoffice"
                      else DovecotServer(directory, pki, {"alice": password}))
            server.start()
            servers[kind] = server
        for round_number in range(arguments.rounds):
            for kind, server in servers.items():
                for client in ("postoffice fetch", "mpop"):
                    home = work / f"{kind}-{client.split()[0]}-{round_number}"
                    home.mkdir(mode=0o755)
                    procs.chown_to_mail_user(home)
                    deliver_files(server, "alice", messages)
                    if client == "mpop":
                        mpop = Mpop(home, server, pki, "alice", password, mode="pop3s", keep=False)
                        elapsed = timed(mpop.run)
                        saved = mpop.saved()
                    else:
                        password_file = home / "password"
                        password_file.write_text(password + "\n")
                        password_file.chmod(0o600)
                        argv = fetch_command(arguments.binary, home, server, pki, password_file)
                        elapsed = timed(lambda: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                                                               timeout=600))
                        saved = saved_messages("maildir", home / "Maildir")
                    assert len(saved) == arguments.count, (kind, client, len(saved))
                    assert server.stored("alice") == [], (kind, client, "left on the server")
                    results.setdefault((kind, client), []).append(elapsed)
    finally:
        for server in servers.values():
            server.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)

    print(f"{arguments.count} messages of about 4 KB, implicit TLS on loopback, {arguments.rounds} rounds")
    print(f"{'server':<12} {'client':<18} {'median':>8}   range")
    for (kind, client), times in results.items():
        print(f"{kind:<12} {client:<18} {statistics.median(times):7.2f}s   "
              f"{min(times):.2f}–{max(times):.2f}s")


if __name__ == "__main__":
    main()
