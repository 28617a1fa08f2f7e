"""Running a command on a pseudo-terminal and answering its questions, as a person at a
terminal would: password prompts without echo, numbered choices, yes/no questions.

Every run is bounded in time; the child is ours and is killed by PID if it overstays.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Sequence

#: What answers a prompt: the text seen since the last answer -> the reply (without newline),
#: or None when the text is not a prompt it knows.
Responder = Callable[[str], "str | None"]


@dataclass
class TerminalResult:
    returncode: int
    output: str
    #: (prompt line, reply) in order.
    answered: list[tuple[str, str]]

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- terminal ---\n{self.output[-6000:]}"


def answers(*rules: tuple[str, str]) -> Responder:
    """A responder from (regex, reply) rules, tried in order against the last line of output."""
    compiled = [(re.compile(pattern), reply) for pattern, reply in rules]

    def respond(pending: str) -> str | None:
        line = pending.rsplit("\n", 1)[-1]
        for pattern, reply in compiled:
            if pattern.search(line):
                return reply
        return None
    return respond


def run(argv: Sequence[str], respond: Responder, *, env: dict[str, str] | None = None, cwd=None,
        timeout: float = 120.0, max_answers: int = 20) -> TerminalResult:
    """Runs `argv` with a pseudo-terminal as its standard input, output and error. Whenever the
    output stops at a prompt (no newline after it) that `respond` knows, its reply is typed."""
    master, slave = pty.openpty()
    process = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                               start_new_session=True, close_fds=True)
    os.close(slave)
    output = b""
    answered: list[tuple[str, str]] = []
    consumed = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                raise AssertionError(f"{list(argv)!r} did not finish within {timeout} s\n"
                                     f"{output.decode('utf-8', 'replace')[-4000:]}")
            ready, _, _ = select.select([master], [], [], min(remaining, 0.2))
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal is gone
                    chunk = b""
                if not chunk:
                    break
                output += chunk
                continue
            # Quiet for a moment: a prompt waits for an answer (the child stopped at it).
            pending = output[consumed:].decode("utf-8", "replace")
            if pending and not pending.endswith("\n"):
                reply = respond(pending)
                if reply is not None:
                    if len(answered) >= max_answers:
                        raise AssertionError(f"more than {max_answers} prompts:\n{output.decode()[-4000:]}")
                    answered.append((pending.rsplit("\n", 1)[-1], reply))
                    os.write(master, reply.encode() + b"\n")
                    consumed = len(output)
            if process.poll() is not None and not ready:
                # Drain what is left, then stop.
                while select.select([master], [], [], 0.1)[0]:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        break
                    output += chunk
                break
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    text = output.decode("utf-8", "replace").replace("\r\n", "\n")
    return TerminalResult(process.returncode, text, answered)
