#!/usr/bin/env python3
"""The benchmark corpus: one deterministic set of Maildirs, and a manifest of what RETR must carry.

    Benchmarks/corpus.py OUT [--quick]

Writes `OUT/mail/<user>/Maildir/{new,cur,tmp}` with Dovecot-style names
(`<time>.M<usec>P<pid>Q<n>.bench,S=<stored size>,W=<CRLF size>`, some in cur/ with `:2,S`), and
`OUT/manifest.tsv`: one line per message, `account<TAB>CRLF size<TAB>sha256 of the CRLF
form<TAB>path`, which postoffice-bench reads to check every RETR byte for byte. Messages are
stored with LF line ends, as delivery agents write them; text and multipart messages with base64
attachments, lines starting with ".", sizes from a few KB to MBs. The same seed gives the same
bytes, names and manifest every time; identical messages of different accounts are hard links.

Accounts (all with the password `bench`):
  s1..s64        100 mixed messages each (the session workloads: STAT and UIDL)
  r1..r8         20 messages of 100 KB to 2 MB each, every size distinct (RETR throughput)
  i1..i10000     one small message each (idle sessions)
  big            100,000 small messages (login to a large maildrop)
  f1             1,000 messages of about 4 KB (the fetch comparison; compare.py copies it fresh
                 into the server's Maildir before each client run)
`--quick` makes the same kinds with smaller counts.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "Interop"))
from harness.corpus import wire_form  # noqa: E402  (the one definition of RETR's wire form)

VERSION = 1
PASSWORD = "bench"
SEED = 20260307

FULL = {"sessions": 64, "session_messages": 100, "retr": 8, "retr_messages": 20, "idle": 10_000,
        "big": 100_000, "fetch": 1_000}
QUICK = {"sessions": 8, "session_messages": 20, "retr": 2, "retr_messages": 4, "idle": 100,
         "big": 2_000, "fetch": 20}

WORDS = ("meeting report budget invoice lunch project deadline review travel holiday contract server "
         "backup release draft schedule coffee weekend family photo garden music ticket order delivery "
         "payment account password update security newsletter conference quarterly figures attached "
         "please find below regards thanks agenda minutes proposal").split()
NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy"]


class Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sequence = 0
        self.manifest: list[str] = []
        self.stored: dict[str, Path] = {}  # digest of the stored bytes -> first file written

    def maildir(self, user: str) -> Path:
        path = self.root / "mail" / user / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def add(self, user: str, data: bytes, *, seen: bool = False) -> None:
        """Stores `data` in `user`'s Maildir under a Dovecot-style name, and records it."""
        self.sequence += 1
        wire = wire_form(data)
        name = (f"{1700000000 + self.sequence}.M{self.sequence % 1_000_000}P4242Q{self.sequence}.bench"
                f",S={len(data)},W={len(wire)}")
        sub = "cur" if seen else "new"
        if seen:
            name += ":2,S"
        path = self.maildir(user) / sub / name
        key = hashlib.sha256(data).hexdigest()
        first = self.stored.get(key)
        if first is None:
            path.write_bytes(data)
            self.stored[key] = path
        else:
            os.link(first, path)
        digest = hashlib.sha256(wire).hexdigest()
        self.manifest.append(f"{user}\t{len(wire)}\t{digest}\t{path.relative_to(self.root)}")


def text_body(rng: random.Random, size: int) -> str:
    """Lines of words up to about `size` characters; some lines start with "." or ".."."""
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        roll = rng.random()
        if roll < 0.04:
            line = "." + line
        elif roll < 0.06:
            line = ".." + line
        elif roll < 0.07:
            line = "."
        elif roll < 0.12:
            line = ""
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def headers(rng: random.Random, ident: str, extra: str = "") -> str:
    sender = rng.choice(NAMES)
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
    return (f"Return-Path: <{sender.lower()}@example.org>\n"
            f"Date: Mon, {rng.randint(1, 28)} Mar 2026 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 +0000\n"
            f"From: {sender} <{sender.lower()}@example.org>\n"
            f"To: Bench <bench@example.test>\n"
            f"Subject: {subject}\n"
            f"Message-ID: <{ident}@bench.example>\n"
            f"{extra}")


def message(rng: random.Random, ident: str, size: int) -> bytes:
    """A message of about `size` octets: plain text when small or on a coin flip, otherwise
    multipart with a text part and a base64 attachment filling the rest."""
    if size < 8192 or rng.random() < 0.3:
        head = headers(rng, ident, "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n")
        text = head + "\n" + text_body(rng, max(0, size - len(head) - 1))
        return text.encode()
    boundary = f"=_bench_{ident}"
    head = headers(rng, ident, f"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\n")
    intro = text_body(rng, rng.randint(200, 2000))
    start = (f"{head}\nThis is a multi-part message in MIME format.\n\n--{boundary}\n"
             f"Content-Type: text/plain; charset=us-ascii\n\n{intro}\n--{boundary}\n"
             f"Content-Type: application/octet-stream; name=\"{ident}.bin\"\n"
             f"Content-Transfer-Encoding: base64\n"
             f"Content-Disposition: attachment; filename=\"{ident}.bin\"\n\n").encode()
    end = f"\n--{boundary}--\n".encode()
    payload = max(0, (size - len(start) - len(end)) * 3 // 4)
    encoded = base64.encodebytes(rng.randbytes(payload))  # 76-character lines, LF
    return start + encoded + end


def mixed_size(rng: random.Random) -> int:
    """Mostly a few KB, some tens to hundreds of KB, a few MBs."""
    roll = rng.random()
    if roll < 0.70:
        return rng.randint(2_000, 20_000)
    if roll < 0.95:
        return rng.randint(20_000, 500_000)
    return rng.randint(1_000_000, 4_000_000)


def generate(root: Path, counts: dict[str, int]) -> None:
    rng = random.Random(SEED)
    writer = Writer(root)
    accounts: list[str] = []

    session_set = [message(rng, f"s{i}", mixed_size(rng)) for i in range(counts["session_messages"])]
    for n in range(1, counts["sessions"] + 1):
        accounts.append(f"s{n}")
        for index, data in enumerate(session_set):
            writer.add(f"s{n}", data, seen=index % 3 == 0)

    sizes: set[int] = set()
    retr_set = []
    while len(retr_set) < counts["retr_messages"]:
        size = int(100_000 * (20 ** rng.random()))  # log-uniform, 100 KB to 2 MB
        data = message(rng, f"r{len(retr_set)}", size)
        if len(wire_form(data)) in sizes:
            continue
        sizes.add(len(wire_form(data)))
        retr_set.append(data)
    for n in range(1, counts["retr"] + 1):
        accounts.append(f"r{n}")
        for index, data in enumerate(retr_set):
            writer.add(f"r{n}", data, seen=index % 4 == 0)

    idle = message(rng, "idle", 3000)
    for n in range(1, counts["idle"] + 1):
        accounts.append(f"i{n}")
        writer.add(f"i{n}", idle)

    accounts.append("big")
    for index in range(counts["big"]):
        writer.add("big", message(rng, f"big{index}", rng.randint(600, 3000)), seen=index % 2 == 0)

    accounts.append("f1")
    for index in range(counts["fetch"]):
        writer.add("f1", message(rng, f"f{index}", rng.randint(3500, 4500)))

    (root / "passwd").write_text("".join(f"{user}:{{PLAIN}}{PASSWORD}\n" for user in accounts))
    (root / "manifest.tsv").write_text(f"# postoffice-bench manifest v{VERSION}\n" + "\n".join(writer.manifest) + "\n")
    (root / "corpus.json").write_text(json.dumps({"version": VERSION, "seed": SEED, "counts": counts}) + "\n")


def ensure(root: Path, quick: bool) -> dict:
    """Generates the corpus in `root` unless the same version and counts are already there."""
    counts = QUICK if quick else FULL
    stamp = root / "corpus.json"
    wanted = {"version": VERSION, "seed": SEED, "counts": counts}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return counts
    if root.exists():
        import shutil
        shutil.rmtree(root)
    root.mkdir(parents=True)
    generate(root, counts)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    counts = ensure(args.out, args.quick)
    print(f"corpus in {args.out}: {counts}")


if __name__ == "__main__":
    main()
