#!/usr/bin/env python3
"""Session and RETR workloads against the Maildir store, one node on PostgreSQL, and two nodes
on the same database behind HAProxy (docs/SCALING.md).

Usage: Benchmarks/scaleout.py [--binary PATH] [--users N] [--messages N] [--sessions N]
                              [--concurrency N] [--seconds S] [--big-maildrop N]

Everything runs on loopback and is stopped by PID: a PostgreSQL of our own
(Tests/Interop/harness/postgres.py, durable: fsync on), `postoffice serve` nodes and HAProxy.
The corpus is a Maildir tree written here (USERS accounts of MESSAGES messages of 1.5–6 KB, LF
line ends), moved into PostgreSQL with `postoffice migrate` (timed). Accounts use {PLAIN}
passwords so the figures are the store's, not the password hash's.

Workloads (each bounded by --sessions and --seconds; CONCURRENCY client threads, each on its own
users so no session meets [IN-USE]):
- session: USER, PASS, STAT, UIDL, QUIT;
- retr: USER, PASS, STAT, RETR of the first 10 messages, QUIT (nothing deleted).
Per run: sessions/s, latency p50/p99, and per session the database's transactions, rows read,
rows written and block reads (pg_stat_database deltas), and CPU milliseconds of the serve nodes
and of PostgreSQL (from /proc). Then login+STAT of one BIG_MAILDROP-message maildrop on each
store (the whole listing is read at login; UIDL itself is left out: the server's listing encoder
repeats a listing longer than 64 KiB, a bug of the server engine reported separately).
"""

from __future__ import annotations

import argparse
import os
import poplib
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "Interop"))
from harness import procs  # noqa: E402
from harness.haproxy import HAProxy  # noqa: E402
from harness.postgres import PostgresServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / TICKS


def postgres_pids(postmaster: int) -> list[int]:
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return pids


def make_message(rng: random.Random, user: str, index: int) -> bytes:
    lines = [f"From: sender{index}@example.org", f"To: {user}@example.org", f"Subject: message {index}",
             f"Message-ID: <{user}.{index}@bench>", ""]
    target = rng.randint(1500, 6000)
    size = sum(len(line) + 1 for line in lines)
    while size < target:
        line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(20, 76)))
        if rng.random() < 0.03:
            line = "." + line
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def write_maildir(root: Path, user: str, messages: list[bytes]) -> None:
    for sub in ("tmp", "new", "cur"):
        (root / user / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(messages):
        (root / user / "Maildir" / "cur" / f"{1700000000 + index}.M{index}P1.bench:2,S").write_bytes(data)


class Node:
    def __init__(self, binary: str, work: Path, site: list[str]) -> None:
        self.port = procs.free_port()
        self.process = procs.ManagedProcess(
            [binary, "serve", *site, "--listen", f"127.0.0.1:{self.port}", "--auth-failure-delay", "0",
             "--log-level", "warning", "--takeover-after", "60"], work / f"serve-{self.port}.log", cwd=work)
        procs.wait_for_port(self.port, process=self.process.process, describe=self.process.log_text)

    def stop(self) -> None:
        self.process.stop()


def stat_database(pg: PostgresServer, name: str) -> dict[str, int]:
    row = pg.psql("SELECT xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, "
                  f"blks_read, blks_hit FROM pg_stat_database WHERE datname = '{name}'", database="postgres")
    keys = ["xact", "returned", "fetched", "inserted", "updated", "deleted", "blks_read", "blks_hit"]
    return dict(zip(keys, (int(value) for value in row.strip().split("|"))))


def run_load(port: int, users: list[str], workload: str, sessions: int, concurrency: int, seconds: float):
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(sessions))
    deadline = time.monotonic() + seconds

    def worker(slot: int) -> None:
        mine = users[slot::concurrency]
        turn = 0
        while time.monotonic() < deadline:
            with lock:
                if next(counter, None) is None:
                    return
            user = mine[turn % len(mine)]
            turn += 1
            started = time.perf_counter()
            try:
                pop = poplib.POP3("127.0.0.1", port, timeout=60)
                pop.user(user)
                pop.pass_("pw")
                count, _ = pop.stat()
                if workload == "session":
                    pop.uidl()
                else:
                    for number in range(1, min(count, 10) + 1):
                        pop.retr(number)
                pop.quit()
            except Exception as error:  # noqa: BLE001 - counted and shown
                with lock:
                    errors.append(repr(error))
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/release/postoffice")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--big-maildrop", type=int, default=100_000)
    args = parser.parse_args()
    binary = str(Path(args.binary).resolve())

    work = Path(tempfile.mkdtemp(prefix="po-scale-"))
    pg = PostgresServer(durable=True, shared_buffers="128MB")
    started: list = []
    try:
        rng = random.Random(7)
        users = [f"user{index:04d}" for index in range(args.users)]
        mail = work / "mail"
        for user in users:
            write_maildir(mail, user, [make_message(rng, user, index) for index in range(args.messages)])
        big = "big"
        if args.big_maildrop:
            write_maildir(mail, big, [])
            cur = mail / big / "Maildir" / "cur"
            body = b"From: a@example.org\nSubject: s\n\nhello\n"
            for index in range(args.big_maildrop):
                (cur / f"{1600000000 + index}.M{index}P1.big:2,S").write_bytes(body)
        passwd = work / "passwd"
        passwd.write_text("".join(f"{user}:{{PLAIN}}pw\n" for user in [*users, big]))
        template = str(mail / "%u" / "Maildir")

        pg.start()
        database = "bench"
        url = pg.create_database(database)
        subprocess.run([binary, "db", "migrate", "--store", url], check=True, capture_output=True)
        began = time.perf_counter()
        migrated = subprocess.run([binary, "migrate", "--from", f"maildir:{template}", "--to", url],
                                  check=True, capture_output=True, text=True)
        migrate_seconds = time.perf_counter() - began
        total_messages = args.users * args.messages + args.big_maildrop
        print(f"migrate: {total_messages} messages in {migrate_seconds:.1f} s "
              f"({total_messages / migrate_seconds:.0f} messages/s); {migrated.stdout.strip().splitlines()[-1]}")
        for user in [*users, big]:
            subprocess.run([binary, "user", "add", user, "--password-stdin", "--scheme", "PLAIN", "--accounts", url],
                           input=b"pw\n", check=True, capture_output=True)
        size = pg.psql("SELECT pg_size_pretty(pg_database_size('bench'))", database="postgres").strip()
        print(f"database size after import: {size}")

        configurations = {
            "maildir, 1 node": ["--maildir", template, "--passwd-file", str(passwd)],
            "postgresql, 1 node": ["--store", url, "--accounts", url],
            "postgresql, 2 nodes + haproxy": ["--store", url, "--accounts", url],
        }
        postmaster = pg.process.pid
        for name, site in configurations.items():
            count = 2 if "2 nodes" in name else 1
            nodes = [Node(binary, work, site) for _ in range(count)]
            started.extend(nodes)
            balancer = None
            port = nodes[0].port
            if count > 1:
                port = procs.free_port()
                balancer = HAProxy({"pop3": (port, [node.port for node in nodes])})
                balancer.start()
                started.append(balancer)
            for workload in ("session", "retr"):
                before_db = stat_database(pg, database)
                node_pids = [node.process.pid for node in nodes]
                before_cpu = (cpu_seconds(node_pids), cpu_seconds(postgres_pids(postmaster)))
                latencies, errors, elapsed = run_load(port, users, workload, args.sessions, args.concurrency,
                                                      args.seconds)
                after_cpu = (cpu_seconds(node_pids), cpu_seconds(postgres_pids(postmaster)))
                after_db = stat_database(pg, database)
                done = len(latencies)
                per = {key: (after_db[key] - before_db[key]) / max(done, 1) for key in before_db}
                line = (f"{name:31} {workload:7} {done:5} sessions {done / elapsed:7.1f}/s "
                        f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms p99 {percentile(latencies, 0.99) * 1000:6.1f} ms "
                        f"errors {len(errors)}; serve CPU {(after_cpu[0] - before_cpu[0]) * 1000 / max(done, 1):.2f} ms/session")
                if "postgresql" in name:
                    line += (f", postgres CPU {(after_cpu[1] - before_cpu[1]) * 1000 / max(done, 1):.2f} ms/session; "
                             f"per session: {per['xact']:.1f} transactions, {per['returned'] + per['fetched']:.0f} rows read, "
                             f"{per['inserted'] + per['updated'] + per['deleted']:.1f} rows written, "
                             f"{per['blks_read']:.1f} blocks from disk, {per['blks_hit']:.0f} from cache")
                print(line, flush=True)
                if errors:
                    print("   first error:", errors[0])
            if args.big_maildrop:
                timings = []
                for _ in range(3):
                    began = time.perf_counter()
                    pop = poplib.POP3("127.0.0.1", port, timeout=300)
                    pop.user(big)
                    pop.pass_("pw")
                    count_big, _ = pop.stat()
                    pop.quit()
                    timings.append(time.perf_counter() - began)
                    assert count_big == args.big_maildrop, count_big
                print(f"{name:31} login+STAT of {args.big_maildrop} messages: "
                      + ", ".join(f"{t * 1000:.0f} ms" for t in timings), flush=True)
            if balancer is not None:
                balancer.stop()
                started.remove(balancer)
            for node in nodes:
                node.stop()
                started.remove(node)
    finally:
        for item in started:
            item.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
