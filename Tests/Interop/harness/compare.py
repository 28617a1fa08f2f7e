"""Comparing what a client saved with what was delivered.

A client's copy is compared byte for byte with the message's POP3 wire form (see
`corpus.wire_form`) after two documented, per-client normalisations:

* `strip`: header fields the client prepends (trace fields such as Received:, Delivered-To:,
  Return-Path:, X-...). Only fields at the very top of the saved header are removed, and only
  those named; corpus messages start with `Date:`, so none of their own fields are touched.
* `line_end`: how the client writes line ends: "crlf" (as on the wire) or "lf" (CRLF -> LF).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from .corpus import Message, message_id

_FIELD_NAME = re.compile(rb"([!-9;-~]+):")  # used with .match(), anchored at pos


def strip_prepended_fields(data: bytes, names: Iterable[str]) -> bytes:
    """Removes leading header fields (with continuation lines) whose names are in `names`."""
    wanted = {name.lower().encode() for name in names}
    position = 0
    while True:
        match = _FIELD_NAME.match(data, position)
        if match is None or match.group(1).lower() not in wanted:
            return data[position:]
        # The field ends at the first line end not followed by whitespace (RFC 5322 §2.2.3).
        end = position
        while True:
            newline = data.find(b"\n", end)
            if newline < 0:
                return b""
            end = newline + 1
            if end >= len(data) or data[end:end + 1] not in (b" ", b"\t"):
                break
        position = end


def to_line_end(wire: bytes, line_end: str) -> bytes:
    if line_end == "crlf":
        return wire
    if line_end == "lf":
        return wire.replace(b"\r\n", b"\n")
    raise ValueError(line_end)


def first_difference(a: bytes, b: bytes) -> str:
    limit = min(len(a), len(b))
    index = next((i for i in range(limit) if a[i] != b[i]), limit)
    return (f"lengths {len(a)} vs {len(b)}, first difference at offset {index}: "
            f"expected {a[max(0, index - 20):index + 40]!r}, got {b[max(0, index - 20):index + 40]!r}")


def assert_saved_equal(messages: list[Message], saved: list[bytes], *, client: str,
                       line_end: str = "crlf", strip: Iterable[str] = (),
                       clean: Callable[[bytes], bytes] | None = None) -> None:
    """Asserts that `saved` holds exactly one copy of each message, equal to its wire form after
    the client's normalisations. `clean(saved)` may undo a further documented alteration the
    client makes (applied after `strip`)."""
    strip = tuple(strip)
    by_id: dict[bytes, list[bytes]] = {}
    for data in saved:
        body = strip_prepended_fields(data, strip)
        if clean is not None:
            body = clean(body)
        try:
            key = message_id(body)
        except ValueError:
            raise AssertionError(f"{client}: saved a message without Message-ID: {data[:300]!r}")
        by_id.setdefault(key, []).append(body)
    problems = []
    expected_ids = {m.message_id for m in messages}
    for key in sorted(set(by_id) - expected_ids):
        problems.append(f"unexpected message {key!r}")
    for message in messages:
        copies = by_id.get(message.message_id, [])
        if len(copies) != 1:
            problems.append(f"{message.name}: {len(copies)} copies saved, expected 1")
            continue
        expected = to_line_end(message.wire, line_end)
        if copies[0] != expected:
            problems.append(f"{message.name}: {first_difference(expected, copies[0])}")
    if problems:
        raise AssertionError(f"{client}: saved mail differs from what was delivered:\n  " + "\n  ".join(problems))


def maildir_messages(maildir: Path) -> list[bytes]:
    """Contents of every message file in a Maildir's new/ and cur/."""
    found = []
    for sub in ("new", "cur"):
        directory = maildir / sub
        if directory.is_dir():
            found.extend(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())
    return found


def directory_files(directory: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()]
