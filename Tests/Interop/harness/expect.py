"""What each server is expected to report, including the reference's documented quirks."""

from __future__ import annotations

from .corpus import Message


def list_size(server_kind: str, message: Message) -> int:
    """The size LIST must report for `message`.

    PostOffice: exactly the octets RETR sends before stuffing (RFC 1939 §5/§7; DESIGN invariant
    5). Dovecot (the reference) does not count the CRLF it adds after a last line that has no
    line end, so for such a message it reports two octets less than it sends.
    """
    size = len(message.wire)
    if server_kind == "dovecot" and not message.data.endswith(b"\n"):
        return size - 2
    return size
