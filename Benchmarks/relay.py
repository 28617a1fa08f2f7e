#!/usr/bin/env python3
"""A TCP relay that delays every chunk by a fixed time in each direction, keeping order.

The kernel here has no netem queueing discipline, so a slow link is simulated in user space:

    Benchmarks/relay.py --listen 127.0.0.1:PORT --to 127.0.0.1:PORT --delay-ms 10
    Benchmarks/relay.py --check [--delay-ms 10]

Each chunk read from one side is written to the other `delay` after it was read; chunks are
never merged out of order, and bandwidth is not limited. `--check` proves it on loopback: a
ping-pong through the relay takes 2 × delay longer than direct (and no more), bytes arrive
unchanged, writes sent in a burst each arrive `delay` later (a delay line, not a queue that adds
up), and bulk transfer is not throttled.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time

CHUNK = 256 * 1024


def split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def pump(source: socket.socket, sink: socket.socket, delay: float) -> list[threading.Thread]:
    """Copies `source` to `sink`, each chunk sent `delay` after it was received, in order.

    Two threads: one receives and stamps, one sleeps until each stamp is due and sends
    (time.sleep wakes within a fraction of a millisecond; an event loop's timers round to
    whole milliseconds)."""
    chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()

    def receive() -> None:
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            chunks.put((time.monotonic() + delay, data))
            if not data:
                return

    def send() -> None:
        while True:
            due, data = chunks.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return

    threads = [threading.Thread(target=receive, daemon=True), threading.Thread(target=send, daemon=True)]
    for thread in threads:
        thread.start()
    return threads


def relay(listen: str, to: str, delay: float) -> None:
    target = split_address(to)
    listener = socket.create_server(split_address(listen), backlog=1024)

    def handle(client: socket.socket) -> None:
        try:
            server = socket.create_connection(target, timeout=30)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threads = pump(client, server, delay) + pump(server, client, delay)
        for thread in threads:
            thread.join()
        client.close()
        server.close()

    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


# -- the check ---------------------------------------------------------------------------------
# The relay runs as its own process, as in the benchmark; the echo server and the probes use
# plain blocking sockets in this one.

def echo_server() -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(CHUNK):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def ping_pong(port: int, rounds: int) -> float:
    """The median time of a one-byte round trip."""
    with connect(port) as sock:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            sock.sendall(b"x")
            sock.recv(1)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def burst(port: int, count: int, spacing: float) -> tuple[float, float]:
    """Sends `count` one-byte writes `spacing` apart without waiting for echoes; returns the
    median and the longest time a byte took to come back."""
    with connect(port) as sock:
        sent: list[float] = []

        def send() -> None:
            for index in range(count):
                sent.append(time.perf_counter())
                sock.sendall(bytes([index % 256]))
                time.sleep(spacing)

        sender = threading.Thread(target=send)
        sender.start()
        times = []
        for index in range(count):
            data = sock.recv(1)
            assert data == bytes([index % 256]), "echo out of order"
            times.append(time.perf_counter() - sent[index])
        sender.join()
    return statistics.median(times), max(times)


def bulk(port: int, size: int) -> tuple[bool, float]:
    payload = os.urandom(size)
    with connect(port) as sock:
        start = time.perf_counter()
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        received = bytearray()
        while len(received) < size:
            data = sock.recv(CHUNK)
            if not data:
                break
            received += data
        sender.join()
        elapsed = time.perf_counter() - start
    return bytes(received) == payload, size / elapsed / 1e6


def check(delay_ms: float) -> bool:
    listener, echo_port = echo_server()
    relay_port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--listen", f"127.0.0.1:{relay_port}",
                                "--to", f"127.0.0.1:{echo_port}", "--delay-ms", str(delay_ms)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", relay_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        direct = ping_pong(echo_port, 50)
        relayed = ping_pong(relay_port, 50)
        added_ms = (relayed - direct) * 1000
        burst_median, burst_worst = burst(relay_port, 40, 0.001)
        intact, rate = bulk(relay_port, 32 * 1024 * 1024)
    finally:
        process.terminate()
        process.wait(timeout=10)
        listener.close()
    expected_ms = 2 * delay_ms
    checks = [
        (f"ping-pong: +{added_ms:.2f} ms through the relay (expected +{expected_ms:.0f}; direct {direct * 1000:.3f} ms)",
         expected_ms - 0.5 <= added_ms <= expected_ms + 2),
        # Were the delays to add up (a queue, not a delay line), the last write would take 40 × 20 ms.
        (f"40 writes 1 ms apart: echoed after {burst_median * 1000:.1f} ms (median), {burst_worst * 1000:.1f} ms "
         "at most (delays do not add up)",
         burst_median * 1000 <= expected_ms + 2 and burst_worst * 1000 <= expected_ms + 10),
        (f"32 MiB echoed through the relay byte for byte, in order: {'yes' if intact else 'NO'}", intact),
        (f"bulk: {rate:.0f} MB/s through the relay", rate >= 20),
    ]
    for text, ok in checks:
        print(f"relay check: {'ok  ' if ok else 'FAIL'} {text}")
    return all(ok for _, ok in checks)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen")
    parser.add_argument("--to")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--check", action="store_true", help="measure the relay on loopback and exit")
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    if args.check:
        sys.exit(0 if check(args.delay_ms) else 1)
    if not (args.listen and args.to):
        parser.error("--listen and --to are required (or --check)")
    try:
        relay(args.listen, args.to, delay)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
