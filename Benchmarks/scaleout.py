#!/usr/bin/env python3
"""The scale-out figures of docs/SCALING.md: postoffice-bench's session and RETR workloads against
the Maildir store, one node on PostgreSQL, and two nodes on the same database behind HAProxy; the
login to a large maildrop on each store; and what one session costs the database.

    Benchmarks/scaleout.py [--bin-dir .build-release/release] [--corpus DIR] [--quick]
                           [--duration S] [--runs N] [--out DIR]

The corpus is Benchmarks/corpus.py's (accounts s1..s64 with 100 mixed messages, r1..r8 with 20
messages of 100 KB to 2 MB, `big` with 100,000 small ones; `--quick` for smaller counts); the
accounts used here are hard-linked into a Maildir tree of our own (the servers never change a
message file), and `postoffice migrate` copies them into a PostgreSQL of our own (durable: fsync
on, 128 MB of shared buffers), timed. Accounts are `{PLAIN}` in both stores, so the figures are
the stores', not the password hash's.

Everything is ours, on loopback, and stopped by PID: the PostgreSQL server
(Tests/Interop/harness/postgres.py), the `serve` nodes, HAProxy (harness/haproxy.py, TCP mode).
The servers (nodes, PostgreSQL, HAProxy) run on core 0 and postoffice-bench on core 1, as
Benchmarks/compare.py pins them; on a 2-core machine two nodes therefore share one core, so the
two-node line shows what the balancer and a second node cost, not more throughput.

With one node on each store, also: 800 deliveries of about 4 KB over LMTP (4 connections, one
transaction per message) into accounts d1..d4, then a download-and-delete pass (RETR, DELE,
QUIT) over them: what mail arriving and leaving costs, per message.

Per configuration and workload (each run `--duration` seconds, no warm-up, so that the
counters below cover exactly the sessions counted), from the bench: sessions/s (or MB/s and
messages for RETR) and latency; from /proc: CPU time of the nodes, of PostgreSQL and of
HAProxy; from PostgreSQL: transactions, rows read and written, shared-buffer hits and reads
(pg_stat_database, read 2 s after the run, as PostgreSQL flushes them about once a second),
WAL bytes (pg_stat_wal); from the kernel: bytes between the nodes and PostgreSQL (`ss` on the
database's port). Every line records the load average, since the machine is shared. Results go
to OUT/scaleout.jsonl, and a summary to standard output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import poplib
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "Tests" / "Interop"))
sys.path.insert(0, str(HERE))
import corpus as corpus_module  # noqa: E402
from harness import procs  # noqa: E402
from harness.haproxy import HAProxy  # noqa: E402
from harness.postgres import PostgresServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
BENCH_CORE = "1"
#: Bounded waits: a node must listen within this, a bench run end within duration + this.
START_TIMEOUT = 120.0
RUN_SLACK = 300.0


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / TICKS


def pin(pid: int, core: str) -> None:
    """Every thread of `pid` on `core` (sched_setaffinity applies to one thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {int(core)})
        except OSError:
            pass


class Node:
    """`postoffice serve` with the given site options, on core 0."""

    def __init__(self, binary: Path, work: Path, site: list[str]) -> None:
        self.port = procs.free_port()
        self.lmtp_port = procs.free_port()
        # Its own working directory: the data directory (certificate, admin socket) is under it.
        directory = work / f"node-{self.port}"
        directory.mkdir()
        self.process = procs.ManagedProcess(
            ["taskset", "-c", SERVER_CORE, str(binary), "serve", *site, "--listen", f"127.0.0.1:{self.port}",
             "--lmtp", f"127.0.0.1:{self.lmtp_port}",
             "--auth-failure-delay", "0", "--log-level", "warning", "--takeover-after", "60",
             *(["--run-as", "root"] if procs.is_root() else [])],
            directory / "serve.log", cwd=directory)
        procs.wait_for_port(self.port, process=self.process.process, describe=self.process.log_text,
                            timeout=START_TIMEOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.stop()


def database_counters(pg: PostgresServer, name: str) -> dict[str, int]:
    row = pg.psql(
        "SELECT d.xact_commit, d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted, "
        "d.blks_read, d.blks_hit, w.wal_bytes::bigint "
        f"FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = '{name}'", database="postgres")
    keys = ["xact", "returned", "fetched", "inserted", "updated", "deleted", "blks_read", "blks_hit", "wal_bytes"]
    return dict(zip(keys, (int(value) for value in row.strip().split("|"))))


def socket_bytes(port: int) -> dict[tuple[str, str], tuple[int, int]]:
    """Per connection to the database's port: (bytes the database sent, bytes it received)."""
    output = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
                            capture_output=True, text=True, timeout=30).stdout
    found = {}
    key = None
    for line in output.splitlines():
        fields = line.split()
        if not line.startswith((" ", "\t")) and len(fields) >= 4:
            key = (fields[2], fields[3])
            continue
        if key is None:
            continue
        sent = re.search(r"bytes_sent:(\d+)", line) or re.search(r"bytes_acked:(\d+)", line)
        received = re.search(r"bytes_received:(\d+)", line)
        found[key] = (int(sent.group(1)) if sent else 0, int(received.group(1)) if received else 0)
        key = None
    return found


def socket_delta(before: dict, after: dict) -> tuple[int, int]:
    sent = received = 0
    for key, (s, r) in after.items():
        s0, r0 = before.get(key, (0, 0))
        sent += s - s0
        received += r - r0
    return sent, received


def bench(binary: Path, args: list[str], duration: float) -> dict:
    result = subprocess.run(["taskset", "-c", BENCH_CORE, str(binary), *args, "--json", "-"], capture_output=True,
                            text=True, timeout=duration + RUN_SLACK)
    if result.returncode != 0:
        raise RuntimeError(f"postoffice-bench {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


#: The delivery workload: accounts d1..d4 (empty at the start), messages of about 4 KB.
DELIVERY_USERS = [f"d{n}" for n in range(1, 5)]
DELIVERY_MESSAGES = 800


def delivery_message(index: int) -> bytes:
    body = "".join(f"line {line} of message {index}, some words to make it look like mail\r\n" for line in range(60))
    return (f"From: sender{index}@example.org\r\nTo: d@example.org\r\nSubject: delivery {index}\r\n"
            f"Message-ID: <d{index}@scaleout>\r\n\r\n{body}").encode()


def deliver_over_lmtp(port: int, count: int) -> float:
    """`count` messages over LMTP (RFC 2033), one transaction each, round robin over the
    delivery accounts, from 4 client threads; returns the seconds taken."""
    def worker(slot: int) -> None:
        with smtplib.LMTP("127.0.0.1", port, timeout=60) as client:
            for index in range(slot, count, 4):
                user = DELIVERY_USERS[index % len(DELIVERY_USERS)]
                client.sendmail("sender@example.org", [f"{user}@example.org"], delivery_message(index))
    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def download_and_delete(port: int) -> int:
    """Each delivery account: RETR and DELE every message, QUIT (the UPDATE); returns how many."""
    deleted = 0
    for user in DELIVERY_USERS:
        client = poplib.POP3("127.0.0.1", port, timeout=120)
        client.user(user)
        client.pass_(corpus_module.PASSWORD)
        count, _ = client.stat()
        for number in range(1, count + 1):
            client.retr(number)
            client.dele(number)
        client.quit()
        deleted += count
    return deleted


def prepare_mail(corpus: Path, work: Path, users: list[str]) -> Path:
    """Hard links of the corpus's Maildirs of `users` (the servers only read message files)."""
    mail = work / "mail"
    mail.mkdir()
    for user in users:
        subprocess.run(["cp", "-al", str(corpus / "mail" / user), str(mail / user)], check=True, timeout=600)
    return mail


def run(args: argparse.Namespace) -> int:
    bin_dir = Path(args.bin_dir).resolve()
    postoffice, bench_binary = bin_dir / "postoffice", bin_dir / "postoffice-bench"
    counts = corpus_module.QUICK if args.quick else corpus_module.FULL
    corpus = Path(args.corpus or f"/tmp/postoffice-bench-corpus-{'quick' if args.quick else 'full'}")
    stamp = corpus / "corpus.json"
    wanted = {"version": corpus_module.VERSION, "seed": corpus_module.SEED, "counts": counts}
    if not corpus.exists():
        corpus_module.ensure(corpus, args.quick)
    elif not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        # Never regenerated here: compare.py may be using it.
        raise SystemExit(f"{corpus} holds another corpus: give --corpus a new directory")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "scaleout.jsonl"
    work = Path(tempfile.mkdtemp(prefix="po-scaleout-"))
    sessions_users = [f"s{n}" for n in range(1, counts["sessions"] + 1)]
    retr_users = [f"r{n}" for n in range(1, counts["retr"] + 1)]
    users = [*sessions_users, *retr_users, "big"]
    pg = PostgresServer(durable=True, shared_buffers="128MB", max_connections=60)
    running: list = []

    def record(entry: dict) -> None:
        entry["load_1min"] = load_average()
        with results_path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    try:
        mail = prepare_mail(corpus, work, users)
        template = str(mail / "%u" / "Maildir")
        passwd = work / "passwd"
        passwd.write_text("".join(f"{user}:{{PLAIN}}{corpus_module.PASSWORD}\n"
                                  for user in [*users, *DELIVERY_USERS]))
        passwd.chmod(0o600)

        pg.start()
        for pid in [pg.process.pid, *children(pg.process.pid)]:
            pin(pid, SERVER_CORE)
        database = "scaleout"
        url = pg.create_database(database)
        subprocess.run([str(postoffice), "db", "migrate", "--store", url], check=True, capture_output=True,
                       timeout=120)
        for user in [*users, *DELIVERY_USERS]:
            subprocess.run([str(postoffice), "user", "add", user, "--password-stdin", "--scheme", "PLAIN",
                            "--accounts", url], input=f"{corpus_module.PASSWORD}\n".encode(), check=True,
                           capture_output=True, timeout=120)
        messages = counts["sessions"] * counts["session_messages"] + counts["retr"] * counts["retr_messages"] \
            + counts["big"]
        before = database_counters(pg, database)
        load_before = load_average()
        began = time.perf_counter()
        migrated = subprocess.run(
            [str(postoffice), "migrate", "--from", f"maildir:{template}", "--to", url,
             *[item for user in users for item in ("--user", user)]],
            capture_output=True, text=True, timeout=6 * 3600)
        seconds = time.perf_counter() - began
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
        time.sleep(2)
        after = database_counters(pg, database)
        size = int(pg.psql(f"SELECT pg_database_size('{database}')", database="postgres").strip())
        bodies = int(pg.psql("SELECT count(*) FROM messages", database=database).strip())
        record({"workload": "migrate", "messages": messages, "seconds": seconds,
                "messages_per_s": messages / seconds, "bodies_stored": bodies, "database_bytes": size,
                "wal_bytes": after["wal_bytes"] - before["wal_bytes"], "load_before": load_before,
                "summary": migrated.stdout.strip().splitlines()[-1]})
        print(f"migrate: {messages} messages in {seconds:.1f} s ({messages / seconds:.0f}/s), "
              f"{bodies} distinct bodies, database {size / 1e6:.0f} MB", flush=True)

        configurations = [
            ("maildir", 1, ["--maildir", template, "--passwd-file", str(passwd)]),
            ("postgresql", 1, ["--store", url, "--accounts", url]),
            ("postgresql", 2, ["--store", url, "--accounts", url]),
        ]
        for run_index in range(args.runs):
            for store, node_count, site in configurations:
                label = f"{store}, {node_count} node{'s' if node_count > 1 else ''}"
                nodes = []
                for _ in range(node_count):
                    nodes.append(Node(postoffice, work, site))
                    running.append(nodes[-1])
                port = nodes[0].port
                balancer = None
                if node_count > 1:
                    balancer_dir = work / f"haproxy-{run_index}"
                    balancer_dir.mkdir()
                    balancer = HAProxy(balancer_dir, {"pop3": ([node.port for node in nodes], "")})
                    balancer.start()
                    running.append(balancer)
                    pin(balancer.process.pid, SERVER_CORE)
                    port = balancer.ports["pop3"]
                server_pid = ["--server-pid", str(nodes[0].pid)] if node_count == 1 else []
                workloads = [
                    ("sessions", ["sessions", "--port", str(port), "--account-pattern", f"s%d:{corpus_module.PASSWORD}",
                                  "--account-count", str(counts["sessions"]), "--expect-messages",
                                  str(counts["session_messages"]), "--concurrency", str(args.concurrency)]),
                    ("retr", ["retr", "--port", str(port), "--account-pattern", f"r%d:{corpus_module.PASSWORD}",
                              "--account-count", str(counts["retr"]), "--manifest", str(corpus / "manifest.tsv"),
                              "--sessions", str(counts["retr"])]),
                ]
                for workload, bench_args in workloads:
                    pids = lambda: (  # noqa: E731 - read again after each run (PostgreSQL forks backends)
                        [node.pid for node in nodes],
                        [pg.process.pid, *children(pg.process.pid)],
                        [balancer.process.pid] if balancer else [])
                    node_pids, pg_pids, proxy_pids = pids()
                    cpu_before = [cpu_seconds(node_pids), cpu_seconds(pg_pids), cpu_seconds(proxy_pids)]
                    db_before = database_counters(pg, database)
                    sockets_before = socket_bytes(pg.port)
                    result = bench(bench_binary, [*bench_args, "--duration", str(args.duration), "--warmup", "0",
                                                  "--label", label, *server_pid], args.duration)
                    sockets_after = socket_bytes(pg.port)
                    node_pids, pg_pids, proxy_pids = pids()
                    cpu_after = [cpu_seconds(node_pids), cpu_seconds(pg_pids), cpu_seconds(proxy_pids)]
                    time.sleep(2)
                    db_after = database_counters(pg, database)
                    units = result.get("sessions") if workload == "sessions" else result.get("messages")
                    units = max(int(units or 0), 1)
                    sent, received = socket_delta(sockets_before, sockets_after)
                    entry = {"workload": workload, "store": store, "nodes": node_count, "run": run_index,
                             "bench": result, "per": "session" if workload == "sessions" else "message",
                             "node_cpu_ms": (cpu_after[0] - cpu_before[0]) * 1000 / units,
                             "postgres_cpu_ms": (cpu_after[1] - cpu_before[1]) * 1000 / units,
                             "haproxy_cpu_ms": (cpu_after[2] - cpu_before[2]) * 1000 / units}
                    if store == "postgresql":
                        delta = {key: (db_after[key] - db_before[key]) / units for key in db_before}
                        entry.update({
                            "transactions": delta["xact"],
                            "rows_read": delta["returned"] + delta["fetched"],
                            "rows_written": delta["inserted"] + delta["updated"] + delta["deleted"],
                            "buffer_hits": delta["blks_hit"], "buffer_reads": delta["blks_read"],
                            "wal_bytes": delta["wal_bytes"],
                            "bytes_from_database": sent / units, "bytes_to_database": received / units})
                    record(entry)
                    rate = (f"{result.get('sessions_per_s', 0):.0f} sessions/s, p50 {result.get('p50_ms', 0):.1f} ms, "
                            f"p99 {result.get('p99_ms', 0):.1f} ms" if workload == "sessions"
                            else f"{result.get('mb_per_s', 0):.0f} MB/s, {result.get('messages')} messages")
                    print(f"{label:18} {workload:8} {rate}; per {entry['per']}: node CPU {entry['node_cpu_ms']:.2f} ms, "
                          f"PostgreSQL CPU {entry['postgres_cpu_ms']:.2f} ms; errors {result.get('errors')}; "
                          f"load {entry['load_1min']:.1f}", flush=True)
                if run_index == 0 and node_count == 1:
                    result = bench(bench_binary, ["login", "--port", str(port), "--account-pattern",
                                                  f"big:{corpus_module.PASSWORD}", "--repeats", "4",
                                                  "--expect-messages", str(counts["big"]), "--label", label],
                                   600)
                    record({"workload": "login", "store": store, "nodes": node_count, "bench": result})
                    print(f"{label:18} login+STAT of {counts['big']} messages: first {result['first_s'] * 1000:.0f} ms, "
                          f"later {result.get('later_s', 0) * 1000:.0f} ms", flush=True)
                if run_index == 0 and node_count == 1:
                    for workload, action in (
                        ("deliver", lambda: (deliver_over_lmtp(nodes[0].lmtp_port, DELIVERY_MESSAGES),
                                             DELIVERY_MESSAGES)),
                        ("delete", lambda: (0.0, download_and_delete(port))),
                    ):
                        pg_pids = [pg.process.pid, *children(pg.process.pid)]
                        cpu_before = [cpu_seconds([nodes[0].pid]), cpu_seconds(pg_pids)]
                        db_before = database_counters(pg, database)
                        began = time.perf_counter()
                        _, units = action()
                        seconds = time.perf_counter() - began
                        pg_pids = [pg.process.pid, *children(pg.process.pid)]
                        cpu_after = [cpu_seconds([nodes[0].pid]), cpu_seconds(pg_pids)]
                        time.sleep(2)
                        db_after = database_counters(pg, database)
                        units = max(units, 1)
                        entry = {"workload": workload, "store": store, "nodes": 1, "per": "message",
                                 "messages": units, "messages_per_s": units / seconds,
                                 "node_cpu_ms": (cpu_after[0] - cpu_before[0]) * 1000 / units,
                                 "postgres_cpu_ms": (cpu_after[1] - cpu_before[1]) * 1000 / units}
                        if store == "postgresql":
                            delta = {key: (db_after[key] - db_before[key]) / units for key in db_before}
                            entry.update({"transactions": delta["xact"],
                                          "rows_read": delta["returned"] + delta["fetched"],
                                          "rows_written": delta["inserted"] + delta["updated"] + delta["deleted"],
                                          "wal_bytes": delta["wal_bytes"]})
                        record(entry)
                        print(f"{label:18} {workload:8} {units} messages, {units / seconds:.0f}/s; per message: "
                              f"node CPU {entry['node_cpu_ms']:.2f} ms, PostgreSQL CPU {entry['postgres_cpu_ms']:.2f} ms, "
                              f"WAL {entry.get('wal_bytes', 0):.0f} B; load {entry['load_1min']:.1f}", flush=True)
                if balancer is not None:
                    balancer.stop()
                    running.remove(balancer)
                for node in nodes:
                    node.stop()
                    running.remove(node)
    finally:
        for item in reversed(running):
            item.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"results in {results_path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=".build-release/release")
    parser.add_argument("--corpus", help="the corpus directory (made if missing)")
    parser.add_argument("--quick", action="store_true", help="the small corpus")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per bench run")
    parser.add_argument("--runs", type=int, default=1, help="rounds over the configurations, interleaved")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients of the session workload")
    parser.add_argument("--out", default=".benchmarks/scaleout")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
