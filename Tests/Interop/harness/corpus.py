"""The messages the suite delivers, and what a POP3 server must send for each.

Every message carries a unique Message-ID so saved copies can be matched to what was delivered,
whatever order or file names a client uses.
"""

from __future__ import annotations

import base64
import functools
import random
import re
from dataclasses import dataclass

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Message:
    name: str
    data: bytes  # exactly what is handed to delivery

    @property
    def message_id(self) -> bytes:
        return message_id(self.data)

    @property
    def wire(self) -> bytes:
        return wire_form(self.data)


def message_id(data: bytes) -> bytes:
    match = _MESSAGE_ID.search(data)
    if match is None:
        raise ValueError("message has no Message-ID")
    return match.group(1)


def wire_form(data: bytes) -> bytes:
    """What RETR must carry for stored `data`, after un-dot-stuffing: every line end CRLF
    (RFC 1939 §3; a stored bare LF becomes CRLF) and a final CRLF before the terminating dot."""
    text = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def _headers(name: str, subject: str, extra: str = "") -> str:
    return (f"Date: Mon, 2 Mar 2026 10:00:00 +0000\n"
            f"From: Sender <sender@example.test>\n"
            f"To: Alice <alice@example.test>\n"
            f"Subject: {subject}\n"
            f"Message-ID: <{name}@interop.test>\n"
            f"{extra}")


def _lf(text: str) -> bytes:
    return text.encode("utf-8")


def plain_ascii() -> Message:
    return Message("plain-ascii", _lf(_headers("plain-ascii", "Plain ASCII") +
                                      "\nHello Alice,\n\nthis is a plain message.\n"
                                      "From here on it has a line that starts with From.\n\n-- \nSender\n"))


def utf8_body() -> Message:
    headers = _headers("utf8-body", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=",
                       "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
                       "Content-Transfer-Encoding: 8bit\n")
    body = "Grüße aus Köln — ½ € ✓ 日本語 😀\nLatin-1 byte follows: "
    return Message("utf8-body", _lf(headers + "\n" + body) + b"\xe9\xff\x80 end\n")


def leading_dots() -> Message:
    body = (".starts with a dot\n..starts with two dots\n...three\n.\t.tab\n"
            "middle . dot\n. space after dot\nend.\n")
    return Message("leading-dots", _lf(_headers("leading-dots", "Leading dots") + "\n" + body))


def lone_dot() -> Message:
    body = "before the lone dot\n.\nafter the lone dot (the server must stuff it)\n.\n"
    return Message("lone-dot", _lf(_headers("lone-dot", "Lone dot") + "\n" + body))


def crlf_stored() -> Message:
    text = _headers("crlf-stored", "Stored with CRLF") + "\nline one\nline two\n.dot line\n"
    return Message("crlf-stored", _lf(text).replace(b"\n", b"\r\n"))


def bare_lf() -> Message:
    text = _headers("bare-lf", "Stored with bare LF") + "\nline one\n\n\nline four after blanks\n"
    return Message("bare-lf", _lf(text))


def no_final_newline() -> Message:
    text = _headers("no-final-newline", "No final newline") + "\nthe last line has no line end"
    return Message("no-final-newline", _lf(text))


def nul_byte() -> Message:
    text = _headers("nul-byte", "NUL byte") + "\nbefore NUL"
    return Message("nul-byte", _lf(text) + b"\x00after NUL\n")


def long_line(size: int = 1024 * 1024) -> Message:
    rng = random.Random(1)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    line = bytes(rng.choice(alphabet) for _ in range(size))
    text = _lf(_headers("long-line", "One 1 MB line") + "\n") + line + b"\nshort last line\n"
    return Message("long-line", text)


def big_attachment(size: int = 5 * 1024 * 1024) -> Message:
    rng = random.Random(5)
    payload = rng.randbytes(size)
    encoded = base64.encodebytes(payload)  # 76-character lines, LF
    headers = _headers("big-attachment", "5 MB attachment",
                       "MIME-Version: 1.0\n"
                       "Content-Type: multipart/mixed; boundary=\"b0undary\"\n")
    text = (_lf(headers + "\nThis is a MIME message.\n\n--b0undary\n"
                "Content-Type: text/plain; charset=us-ascii\n\nSee the attachment.\n\n"
                "--b0undary\nContent-Type: application/octet-stream\n"
                "Content-Transfer-Encoding: base64\n"
                "Content-Disposition: attachment; filename=\"blob.bin\"\n\n")
            + encoded + b"--b0undary--\n")
    return Message("big-attachment", text)


def small(index: int) -> Message:
    name = f"small-{index:04d}"
    return Message(name, _lf(_headers(name, f"Small message {index}") + f"\nbody of message {index}\n"))


@functools.cache
def _standard() -> tuple[Message, ...]:
    return (plain_ascii(), utf8_body(), leading_dots(), lone_dot(), crlf_stored(), bare_lf(),
            no_final_newline(), nul_byte(), long_line(), big_attachment())


def standard() -> list[Message]:
    """The edge-case corpus every client test downloads (about 6.1 MB in all)."""
    return list(_standard())


def many_small(count: int = 200) -> list[Message]:
    return [small(i) for i in range(count)]
