"""A minimal raw POP3 client that keeps the exact bytes of every response (RFC 1939, RFC 2595)."""

from __future__ import annotations

import socket
import struct
import ssl

from .procs import HOST

TIMEOUT = 30.0


class POP3Error(AssertionError):
    pass


class RawPOP3:
    def __init__(self, port: int, *, tls_context: ssl.SSLContext | None = None,
                 server_hostname: str = HOST, timeout: float = TIMEOUT, source: str | None = None) -> None:
        """`source`: the local address to connect from (any of 127.0.0.0/8 is loopback)."""
        sock = socket.create_connection((HOST, port), timeout=timeout,
                                        source_address=(source, 0) if source else None)
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname=server_hostname)
        self.sock = sock
        self.buffer = b""
        self.greeting = self.read_line()

    # -- framing -----------------------------------------------------------------------------

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def read_line(self) -> bytes:
        """One line including its CRLF."""
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line, self.buffer = self.buffer[:end + 2], self.buffer[end + 2:]
                return line
            if len(self.buffer) > 64 * 1024 * 1024:
                raise POP3Error("line longer than 64 MiB")
            self._fill()

    def read_multiline_raw(self) -> bytes:
        """The data of a multi-line response as sent (still dot-stuffed), without the final
        `.CRLF`; the status line must already have been read."""
        terminator = b"\r\n.\r\n"
        start = 0
        while True:
            if self.buffer.startswith(b".\r\n"):
                self.buffer = self.buffer[3:]
                return b""
            end = self.buffer.find(terminator, start)
            if end >= 0:
                data, self.buffer = self.buffer[:end + 2], self.buffer[end + len(terminator):]
                return data
            start = max(0, len(self.buffer) - len(terminator))
            self._fill()

    @staticmethod
    def unstuff(raw: bytes) -> bytes:
        """Removes the dot-stuffing of RFC 1939 §3 from complete CRLF lines."""
        lines = raw.split(b"\r\n")
        return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)

    # -- commands ----------------------------------------------------------------------------

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def command(self, line: str | bytes) -> bytes:
        """Sends a command and returns its status line (without CRLF)."""
        self.send(line)
        return self.read_line()[:-2]

    def ok(self, line: str | bytes) -> bytes:
        status = self.command(line)
        if not status.startswith(b"+OK"):
            shown = line if not (isinstance(line, str) and line.upper().startswith(("PASS", "AUTH"))) else "<secret>"
            raise POP3Error(f"{shown!r} -> {status!r}")
        return status

    def multiline(self, line: str) -> tuple[bytes, bytes]:
        """Sends a command with a multi-line answer; returns (status, unstuffed data)."""
        status = self.ok(line)
        return status, self.unstuff(self.read_multiline_raw())

    def login(self, user: str, password: str) -> None:
        self.ok(f"USER {user}")
        self.ok(f"PASS {password}")

    def stls(self, context: ssl.SSLContext, server_hostname: str = HOST) -> None:
        self.ok("STLS")
        if self.buffer:
            raise POP3Error("server sent bytes after the STLS response")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)

    def listing(self) -> dict[int, int]:
        _, data = self.multiline("LIST")
        return {int(n): int(size) for n, size in (line.split() for line in data.splitlines())}

    def uidls(self) -> dict[int, bytes]:
        _, data = self.multiline("UIDL")
        return {int(n): uid for n, uid in (line.split() for line in data.splitlines())}

    def retr(self, number: int) -> bytes:
        return self.multiline(f"RETR {number}")[1]

    def quit(self) -> bytes:
        status = self.command("QUIT")
        self.close()
        return status

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Drops the connection without QUIT (a reset, so the server sees it at once)."""
        try:
            # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def __enter__(self) -> "RawPOP3":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
