#!/usr/bin/env python3
"""PostOffice against Dovecot (server) and against mpop, fetchmail, getmail6 and a poplib script
(client), in one interleaved run. Benchmarks/compare.sh installs what this needs and builds the
binaries first; run that.

    Benchmarks/compare.py [--quick] [--runs N] [--plot] [--bin-dir DIR] [--out DIR]
                          [--only servers|clients]

Servers: each run starts PostOffice and Dovecot in turn (the order alternates between runs), each
pinned to core 0 on a fresh hard-linked copy of one deterministic corpus, and drives it with
postoffice-bench pinned to core 1. Clients: each fetcher downloads and deletes the same messages
from Dovecot into a Maildir, on loopback and through a relay adding 10 ms each way. The tables
give medians with min–max over the runs and the ratios; results.jsonl has every measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))
sys.path.insert(0, str(HERE))

import corpus as corpus_module  # noqa: E402
from harness import procs  # noqa: E402
from harness.servers import DovecotServer, MailServer, PostOfficeServer, tool  # noqa: E402
from harness.tls import TestPKI, make_pki  # noqa: E402

SERVER_CORE = "0"
LOAD_CORE = "1"
#: Round-robin real-time priority for everything measured (servers, generator, fetchers, relay):
#: on a machine shared with other work (builds), ordinary priorities let it delay each wake-up by
#: a time slice, adding tens of milliseconds to sessions that take half of one. RT throttling
#: (sched_rt_runtime_us) still leaves other work a share. Cleared by --no-realtime.
REALTIME = ["chrt", "-r", "10"]
PASSWORD = corpus_module.PASSWORD
RELAY_DELAY_MS = 10
CLIENTS = ["postoffice", "mpop", "fetchmail", "getmail6", "poplib"]
#: Another build of `postoffice fetch` (--baseline-bin-dir), run exactly as `postoffice` is: a
#: before/after of a change in one interleaved run. Only when asked for.
BASELINE = "baseline"

#: Dovecot's documented high-performance login mode (one long-lived login process serving many
#: connections, https://doc.dovecot.org/2.3/admin_manual/login_processes/), and limits high enough
#: for 10,000 logged-in sessions: Dovecot runs one pop3 process per session (its own default caps
#: them at 1,024), and each connects to the stats and auth services.
DOVECOT_FAST = """
service pop3-login {
  service_count = 0
  process_min_avail = 1
  client_limit = 20000
}
service pop3 {
  process_limit = 12000
}
default_process_limit = 12000
default_client_limit = 15000
"""


@dataclass
class Plan:
    quick: bool
    runs: int
    duration: float
    warmup: float
    concurrencies: list[int]
    tls_concurrency: int
    retr_sessions: list[int]
    idle_counts: list[int]
    noops: int
    login_repeats: int
    counts: dict = field(default_factory=dict)
    #: The fetchers run (--clients; all by default).
    clients: list[str] = field(default_factory=lambda: list(CLIENTS))

    @staticmethod
    def make(quick: bool, runs: int | None) -> "Plan":
        counts = corpus_module.QUICK if quick else corpus_module.FULL
        if quick:
            return Plan(True, runs or 1, 0.3, 0.1, [1, 8], 8, [1, 2], [counts["idle"]], 5_000, 2, counts)
        return Plan(False, runs or 3, 8.0, 1.0, [1, 16, 64], 16, [1, 8], [1_000, counts["idle"]], 100_000, 4,
                    counts)


STARTED = time.monotonic()


def elapsed() -> str:
    """Time since compare.py started, for the progress lines."""
    return f"t+{time.monotonic() - STARTED:.0f} s"


def pinned(core: str) -> list[str]:
    """The prefix that runs a command on `core` (with real-time priority unless disabled)."""
    return [*REALTIME, "taskset", "-c", core]


class Results:
    """Every measurement, appended to results.jsonl as it comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict] = []
        self.failures: list[str] = []

    def add(self, record: dict) -> None:
        self.records.append(record)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def fail(self, text: str) -> None:
        print(f"FAILED: {text}", flush=True)
        self.failures.append(text)


class Bench:
    """Runs postoffice-bench pinned to the load core."""

    def __init__(self, binary: Path, plan: Plan, results: Results, manifest: Path) -> None:
        self.binary = binary
        self.plan = plan
        self.results = results
        self.manifest = manifest
        self.run_index = 0

    def __call__(self, workload: str, label: str, *args: str, server: MailServer | None = None,
                 pid: int | None = None, timeout: float = 900, **extra) -> dict | None:
        argv = [*pinned(LOAD_CORE), str(self.binary), workload, *args, "--label", label, "--json", "-"]
        if pid is not None:
            argv += ["--server-pid", str(pid)]
        started = time.monotonic()
        try:
            result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.results.fail(f"{label} {workload} {' '.join(args)}: no result within {timeout} s")
            return None
        lines = [line for line in result.stdout.decode().splitlines() if line.startswith("{")]
        record = json.loads(lines[-1]) if lines else None
        if record is not None:
            record.update({"run": self.run_index, "load1": os.getloadavg()[0], **extra})
            self.results.add(record)
            shown = {k: v for k, v in record.items() if k not in ("workload", "label", "run")}
            print(f"  {record['workload']:<10} {label:<11} {json.dumps(shown)} ({time.monotonic() - started:.1f} s)",
                  flush=True)
        if result.returncode != 0 or record is None:
            log = server.log_text()[-600:] if server is not None else ""
            self.results.fail(f"{label} {workload} {' '.join(args)} exited {result.returncode}: "
                              f"{result.stderr.decode()[-1500:]}\n{log}")
        return record


# -- servers -----------------------------------------------------------------------------------

def copy_mail(corpus: Path, work: Path, users: list[str] | None = None) -> None:
    """Hard-links the corpus Maildirs (all, or those of `users`) into `work/mail`: a fresh copy
    in seconds, whatever the servers then add or rename."""
    (work / "mail").mkdir(parents=True, exist_ok=True)
    sources = [corpus / "mail" / user for user in users] if users else sorted((corpus / "mail").iterdir())
    subprocess.run(["cp", "-al", *map(str, sources), str(work / "mail")], check=True)


def make_server(kind: str, work: Path, pki: TestPKI, corpus: Path, postoffice: Path) -> MailServer:
    passwd = (corpus / "passwd").read_text()
    launcher = pinned(SERVER_CORE)
    if kind == "dovecot":
        return DovecotServer(work, pki, {}, passwd_text=passwd, launcher=launcher, extra_config=DOVECOT_FAST)
    # The generator is one address standing in for many clients: PostOffice's per-address cap
    # (default 50, which Dovecot does not have) would refuse the 64-concurrent and idle lines.
    return PostOfficeServer(work, pki, {}, postoffice, passwd_text=passwd, launcher=launcher,
                            extra_args=["--max-connections-per-ip", "0"])


def remove_tree(path: Path) -> None:
    """Removes a copy of the corpus (hundreds of thousands of entries: rm is faster than Python)."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def descendants(pid: int) -> set[int]:
    """The live processes below `pid` (Dovecot's children)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    queue = [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def stop_server(server: MailServer, timeout: float = 120) -> None:
    """Stops the server and waits until every process of its tree has gone, so the next
    measurement does not share the core with thousands of exiting mail processes."""
    tree = descendants(server.process.pid) if server.process else set()
    server.stop()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in tree):
        time.sleep(0.2)


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def fresh_dir(parent: Path, name: str) -> Path:
    path = parent / name
    if path.exists():
        remove_tree(path)
    path.mkdir(parents=True)
    path.chmod(0o755)
    return path


def server_run(kind: str, plan: Plan, bench: Bench, out: Path, corpus: Path, pkis: dict[str, TestPKI],
               postoffice: Path) -> None:
    counts = plan.counts
    work = fresh_dir(out, f"server-{kind}")
    copy_mail(corpus, work)
    server = make_server(kind, work, pkis["rsa"], corpus, postoffice)
    server.start()
    pid = server.process.pid
    print(f"{kind}: pid {pid}, ports {server.pop3_port}/{server.pop3s_port} ({elapsed()})", flush=True)
    plain = ["--port", str(server.pop3_port)]
    tls = ["--port", str(server.pop3s_port), "--tls", "--ca-file", str(pkis["rsa"].ca_cert)]
    timing = ["--duration", str(plan.duration), "--warmup", str(plan.warmup)]
    sessions = ["--account-pattern", f"s%d:{PASSWORD}", "--account-count", str(counts["sessions"]),
                "--expect-messages", str(counts["session_messages"])]
    try:
        # First, before anything else reads it: the large maildrop.
        bench("login", kind, *plain, "--account-pattern", f"big:{PASSWORD}", "--repeats", str(plan.login_repeats),
              "--expect-messages", str(counts["big"]), server=server)
        # One session on every session account first: a server's first look at a maildrop (Dovecot
        # builds its index there) belongs to the login line above, not to the session rates.
        bench("sessions", kind, *plain, *sessions, "--concurrency", "4", "--max-sessions", str(counts["sessions"]),
              "--duration", "300", "--warmup", "0", "--workload", "prime", server=server)
        for concurrency in plan.concurrencies:
            settle(plan)
            bench("sessions", kind, *plain, *sessions, *timing, "--concurrency", str(concurrency), server=server,
                  pid=pid)
        settle(plan)
        bench("sessions", kind, *tls, *sessions, *timing, "--concurrency", str(plan.tls_concurrency),
              "--workload", "tls-rsa", server=server, pid=pid)
        for count in plan.retr_sessions:
            settle(plan)
            bench("retr", kind, *plain, "--account-pattern", f"r%d:{PASSWORD}", "--account-count",
                  str(counts["retr"]), "--manifest", str(bench.manifest), "--sessions", str(count), *timing,
                  server=server, pid=pid)
        settle(plan)
        bench("noop", kind, *plain, "--account-pattern", f"s1:{PASSWORD}", "--count", str(plan.noops),
              server=server)
        for count in plan.idle_counts:
            settle(plan, 2)
            bench("idle", kind, *plain, "--account-pattern", f"i%d:{PASSWORD}", "--account-count", str(count),
                  "--count", str(count), "--concurrency", "32", "--hold", "0.5" if plan.quick else "2", server=server,
                  pid=pid)
    finally:
        stop_server(server)
    if plan.quick:
        # The smoke skips the restart with the other certificate: the same workload again.
        remove_tree(work)
        return
    # The same TLS workload with an ECDSA P-256 certificate.
    settle(plan, 2)
    server = make_server(kind, work, pkis["ecdsa"], corpus, postoffice)
    server.start()
    try:
        bench("sessions", kind, "--port", str(server.pop3s_port), "--tls", "--ca-file", str(pkis["ecdsa"].ca_cert),
              *sessions, *timing, "--concurrency", str(plan.tls_concurrency), "--workload", "tls-ecdsa",
              server=server, pid=server.process.pid)
    finally:
        stop_server(server)
    remove_tree(work)


def responder_run(plan: Plan, bench: Bench, out: Path, corpus: Path, pki: TestPKI) -> None:
    """The generator against the in-memory responder on the server's core: its ceiling."""
    counts = plan.counts
    port, tls_port = procs.free_port(), procs.free_port()
    retr_accounts = [f"r{n}" for n in range(1, counts["retr"] + 1)]
    argv = [*pinned(SERVER_CORE), str(bench.binary), "responder", "--listen", f"127.0.0.1:{port}",
            "--listen-tls", f"127.0.0.1:{tls_port}", "--tls-cert", str(pki.server_cert), "--tls-key",
            str(pki.server_key), "--manifest", str(bench.manifest), "--messages", str(counts["session_messages"]),
            "--run-seconds", "3600"]
    for account in retr_accounts:
        argv += ["--manifest-account", account]
    process = procs.ManagedProcess(argv, out / "responder.log")
    try:
        for p in (port, tls_port):
            procs.wait_for_port(p, process=process.process, describe=process.log_text)
        plain = ["--port", str(port)]
        timing = ["--duration", str(plan.duration), "--warmup", str(plan.warmup)]
        sessions = ["--account-pattern", f"s%d:{PASSWORD}", "--account-count", str(counts["sessions"]),
                    "--expect-messages", str(counts["session_messages"])]
        for concurrency in plan.concurrencies:
            bench("sessions", "responder", *plain, *sessions, *timing, "--concurrency", str(concurrency),
                  pid=process.pid)
        bench("sessions", "responder", "--port", str(tls_port), "--tls", "--ca-file", str(pki.ca_cert), *sessions,
              *timing, "--concurrency", str(plan.tls_concurrency), "--workload", "tls-rsa", pid=process.pid)
        for count in plan.retr_sessions:
            bench("retr", "responder", *plain, "--account-pattern", f"r%d:{PASSWORD}", "--account-count",
                  str(counts["retr"]), "--manifest", str(bench.manifest), "--sessions", str(count), *timing,
                  pid=process.pid)
        bench("noop", "responder", *plain, "--account-pattern", f"s1:{PASSWORD}", "--count", str(plan.noops))
    finally:
        process.stop()


def settle(plan: Plan, seconds: float = 1.0) -> None:
    """Lets the server finish closing the last workload's sessions (and Dovecot its processes);
    a tenth of that with --quick, whose few sessions close at once."""
    time.sleep(seconds / 10 if plan.quick else seconds)


# -- clients -----------------------------------------------------------------------------------


MDA_SCRIPT = """#!/bin/sh
# fetchmail's MDA: one message on stdin into the Maildir $1 (tmp/, then new/).
set -e
f="$1/tmp/$$.fetchmail"
cat > "$f"
mv "$f" "$1/new/"
"""


def client_command(client: str, home: Path, port: int, postoffice: Path,
                   baseline: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one fetcher: download everything from f1 into
    `home/Maildir` and delete it on the server, over plain POP3 with USER/PASS."""
    maildir = home / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    password_file = home / "password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "USER": procs.MAIL_USER, "LOGNAME": procs.MAIL_USER}
    if client in ("postoffice", BASELINE):
        binary = baseline if client == BASELINE and baseline else postoffice
        argv = [str(binary), "fetch", "--host", "127.0.0.1", "--port", str(port), "--tls", "none", "--auth", "user",
                "--user", "f1", "--password-file", str(password_file), "--to", f"maildir:{maildir}",
                "--state", str(home / "state.sqlite"), "--log-level", "warning"]
    elif client == "mpop":
        config = home / "mpoprc"
        config.write_text(f"""defaults
timeout 60
tls off
account bench
host 127.0.0.1
port {port}
auth user
user f1
password {PASSWORD}
delivery maildir {maildir}
keep off
only_new off
uidls_file {home / "uidls"}
""")
        config.chmod(0o600)
        argv = [tool("mpop"), "-C", str(config), "bench"]
    elif client == "fetchmail":
        mda = home / "mda"
        mda.write_text(MDA_SCRIPT)
        mda.chmod(0o755)
        rc = home / "fetchmailrc"
        rc.write_text(f"""set no syslog
set no bouncemail
poll 127.0.0.1 protocol POP3 port {port} timeout 60 auth password
    user "f1" there with password "{PASSWORD}" is "{procs.MAIL_USER}" here
    options no keep fetchall sslproto ''
    mda "{mda} {maildir}"
""")
        rc.chmod(0o600)
        env["FETCHMAILHOME"] = str(home)
        argv = [tool("fetchmail"), "--nodetach", "-d0", "-f", str(rc)]
    elif client == "getmail6":
        rc = home / "getmailrc"
        rc.write_text(f"""[retriever]
type = SimplePOP3Retriever
server = 127.0.0.1
port = {port}
username = f1
password = {PASSWORD}
timeout = 60

[destination]
type = Maildir
path = {maildir}/

[options]
verbose = 0
delete = true
read_all = true
""")
        rc.chmod(0o600)
        argv = [tool("getmail"), "--getmaildir", str(home), "--rcfile", str(rc)]
    elif client == "poplib":
        argv = [sys.executable, str(HERE / "poplib_fetch.py"), "127.0.0.1", str(port), "f1", str(password_file),
                str(maildir)]
    else:
        raise ValueError(client)
    procs.chown_to_mail_user(home)
    return [*pinned(LOAD_CORE), *procs.as_mail_user(argv)], env


_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


def message_ids(directory: Path) -> list[bytes]:
    found = []
    for sub in ("new", "cur"):
        path = directory / sub
        if path.is_dir():
            for entry in path.iterdir():
                if entry.is_file():
                    match = _MESSAGE_ID.search(entry.read_bytes())
                    found.append(match.group(1) if match else b"?")
    return found


def client_phase(plan: Plan, results: Results, out: Path, corpus: Path, pki: TestPKI, postoffice: Path,
                 baseline: Path | None = None) -> None:
    work = fresh_dir(out, "clients-dovecot")
    copy_mail(corpus, work, ["f1"])
    expected = sorted(message_ids(corpus / "mail" / "f1" / "Maildir"))
    server = DovecotServer(work, pki, {}, passwd_text=(corpus / "passwd").read_text(),
                           launcher=pinned(SERVER_CORE), extra_config=DOVECOT_FAST)
    server.start()
    relay_port = procs.free_port()
    relay = procs.ManagedProcess([*pinned(LOAD_CORE), sys.executable, str(HERE / "relay.py"), "--listen",
                                  f"127.0.0.1:{relay_port}", "--to", f"127.0.0.1:{server.pop3_port}",
                                  "--delay-ms", str(RELAY_DELAY_MS)], out / "relay.log")
    try:
        procs.wait_for_port(relay_port, process=relay.process, describe=relay.log_text)
        for run in range(plan.runs):
            clients = [client for client in [CLIENTS[0], BASELINE, *CLIENTS[1:]] if client in plan.clients]
            order = clients[run % len(clients):] + clients[:run % len(clients)]
            for path, port in (("loopback", server.pop3_port), ("10ms", relay_port)):
                for client in order:
                    remove_tree(work / "mail" / "f1")
                    copy_mail(corpus, work, ["f1"])
                    procs.chown_to_mail_user(work / "mail" / "f1")
                    home = fresh_dir(out, f"client-{client}")
                    argv, env = client_command(client, home, port, postoffice, baseline)
                    start = time.perf_counter()
                    try:
                        result = subprocess.run(argv, env=env, cwd=home, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                timeout=1800)
                        code, output = result.returncode, result.stdout.decode("utf-8", "replace")
                    except subprocess.TimeoutExpired:
                        code, output = -1, "timed out"
                    seconds = time.perf_counter() - start
                    saved = sorted(message_ids(home / "Maildir"))
                    left = message_ids(work / "mail" / "f1" / "Maildir")
                    ok = code == 0 and saved == expected and not left
                    record = {"workload": "fetch", "label": client, "path": path, "run": run, "seconds": seconds,
                              "load1": os.getloadavg()[0],
                              "messages": len(saved), "left_on_server": len(left), "ok": ok}
                    results.add(record)
                    print(f"  fetch      {client:<11} {path:<9} {seconds:8.2f} s  saved {len(saved)}/{len(expected)}"
                          f"  left {len(left)}", flush=True)
                    if not ok:
                        results.fail(f"{client} over {path}: exit {code}, saved {len(saved)} of {len(expected)}, "
                                     f"{len(left)} left on the server\n{output[-1500:]}")
                    remove_tree(home)
    finally:
        relay.stop()
        stop_server(server)
    remove_tree(work)


# -- summary -----------------------------------------------------------------------------------

@dataclass
class Line:
    title: str
    match: dict
    metric: str
    better: str  # "higher" or "lower"
    unit: str = ""
    digits: int = 0


def server_lines(plan: Plan) -> list[Line]:
    counts = plan.counts
    top = max(plan.concurrencies)
    lines = []
    for concurrency in sorted(plan.concurrencies, reverse=True):
        lines.append(Line(f"sessions/s, {concurrency} concurrent (connect, USER/PASS, STAT, UIDL of "
                          f"{counts['session_messages']}, QUIT)",
                          {"workload": "sessions", "concurrency": concurrency}, "sessions_per_s", "higher"))
    lines += [
        Line(f"server CPU per session, {top} concurrent", {"workload": "sessions", "concurrency": top},
             "server_cpu_ms_per_session", "lower", " ms", 2),
        Line("p50 session latency, 1 client", {"workload": "sessions", "concurrency": 1}, "p50_ms", "lower", " ms", 2),
        Line("p99 session latency, 1 client", {"workload": "sessions", "concurrency": 1}, "p99_ms", "lower", " ms", 2),
        Line(f"p99 session latency, {top} concurrent", {"workload": "sessions", "concurrency": top}, "p99_ms", "lower",
             " ms", 1),
    ]
    for count in plan.retr_sessions:
        lines.append(Line(f"RETR MB/s, {count} session{'s' if count > 1 else ''} (100 KB–2 MB, every byte checked)",
                          {"workload": "retr", "sessions": count}, "mb_per_s", "higher"))
    lines += [
        Line(f"TLS sessions/s, RSA-2048, {plan.tls_concurrency} concurrent", {"workload": "tls-rsa"}, "sessions_per_s",
             "higher"),
        Line(f"TLS sessions/s, ECDSA P-256, {plan.tls_concurrency} concurrent", {"workload": "tls-ecdsa"},
             "sessions_per_s", "higher"),
    ]
    for count in plan.idle_counts:
        # Per session only when all were held: a server that refused most has nothing to divide.
        lines.append(Line(f"memory per idle logged-in session (PSS), {count:,} sessions",
                          {"workload": "idle", "sessions": count, "refused": 0}, "pss_per_session_kib", "lower",
                          " KiB"))
        lines.append(Line(f"idle sessions held, of {count:,}", {"workload": "idle", "sessions": count}, "held",
                          "higher"))
    lines += [
        Line(f"{plan.noops:,} NOOPs pipelined on one connection", {"workload": "noop"}, "seconds", "lower", " s", 3),
        Line(f"login to a {counts['big']:,}-message maildrop (USER, PASS, STAT), first", {"workload": "login"},
             "first_s", "lower", " s", 3),
        Line(f"login to a {counts['big']:,}-message maildrop, later", {"workload": "login"}, "later_s", "lower", " s",
             3),
    ]
    return lines


#: The table each workload's lines go in (compare.py prints one table per workload).
GROUPS = {"sessions": "Sessions (plain POP3)", "retr": "RETR throughput", "tls-rsa": "TLS sessions",
          "tls-ecdsa": "TLS sessions", "idle": "Idle logged-in sessions", "noop": "Pipelined commands",
          "login": "Login to a large maildrop"}


def last_of_group(lines: list[Line], line: Line) -> Line:
    """The last of the lines in `line`'s table."""
    return [other for other in lines if GROUPS[other.match["workload"]] == GROUPS[line.match["workload"]]][-1]


def values(records: list[dict], label: str, match: dict, metric: str) -> list[float]:
    found = []
    for record in records:
        if record.get("label") != label or metric not in record:
            continue
        if all(record.get(key) == value for key, value in match.items()):
            found.append(float(record[metric]))
    return found


def spread(numbers: list[float], digits: int, unit: str) -> str:
    if not numbers:
        return "—"
    middle = statistics.median(numbers)
    text = f"{middle:,.{digits}f}{unit}"
    if len(numbers) > 1:
        text += f" ({min(numbers):,.{digits}f}–{max(numbers):,.{digits}f})"
    return text


def ratio(postoffice: list[float], other: list[float], better: str) -> tuple[str, float | None]:
    """How many times better PostOffice's median is than `other`'s (above 1: PostOffice ahead)."""
    if not postoffice or not other:
        return "—", None
    ours, theirs = statistics.median(postoffice), statistics.median(other)
    if ours == 0 or theirs == 0:
        return "—", None
    value = ours / theirs if better == "higher" else theirs / ours
    return f"{value:.2f}×" + ("" if value >= 1 else " (behind)"), value


def summarize(plan: Plan, results: Results, out: Path, meta: dict) -> dict:
    records = results.records
    summary: dict = {"meta": meta, "servers": [], "clients": []}
    md = []
    loads = [r["load1"] for r in records if "load1" in r]
    if loads:
        # The machine may be shared: the 1-minute load average as each measurement ended.
        md += [f"Load average (1 min) during the measurements: median {statistics.median(loads):.1f}, "
               f"{min(loads):.1f}–{max(loads):.1f}.", ""]
        summary["load1"] = {"median": statistics.median(loads), "min": min(loads), "max": max(loads)}
    if any(r.get("label") in ("postoffice", "dovecot") and r.get("workload") != "fetch" for r in records):
        group = None
        lines = server_lines(plan)
        for line in lines:
            if GROUPS[line.match["workload"]] != group:
                group = GROUPS[line.match["workload"]]
                md += [f"#### {group}", "", "| line | Dovecot | PostOffice | ratio | responder (generator ceiling) |",
                       "| --- | --- | --- | --- | --- |"]
            row = {label: values(records, label, line.match, line.metric)
                   for label in ("dovecot", "postoffice", "responder")}
            text, value = ratio(row["postoffice"], row["dovecot"], line.better)
            md.append(f"| {line.title} | {spread(row['dovecot'], line.digits, line.unit)} | "
                      f"{spread(row['postoffice'], line.digits, line.unit)} | {text} | "
                      f"{spread(row['responder'], line.digits, line.unit) if row['responder'] else ''} |")
            summary["servers"].append({"title": line.title, "metric": line.metric, "better": line.better,
                                       "unit": line.unit, "ratio": value, **row})
            if line is last_of_group(lines, line):
                md.append("")
    fetches = [r for r in records if r.get("workload") == "fetch"]
    if fetches:
        md.append("#### Fetching (the client)")
        md.append("")
        md.append(f"Downloading and deleting {plan.counts['fetch']:,} messages of about 4 KB from Dovecot "
                  "into a Maildir (seconds):")
        md.append("")
        # The fixed columns, and the baseline build when it was measured.
        columns = [CLIENTS[0], *([BASELINE] if any(r.get("label") == BASELINE for r in fetches) else []),
                   *CLIENTS[1:]]
        md.append("| path | " + " | ".join(columns) + " |")
        md.append("| --- |" + " --- |" * len(columns))
        for path, title in (("loopback", "loopback"), ("10ms", f"{RELAY_DELAY_MS} ms added each way")):
            cells = []
            for client in columns:
                seconds = values(fetches, client, {"path": path}, "seconds")
                cells.append(spread(seconds, 2, " s"))
                summary["clients"].append({"path": path, "client": client, "seconds": seconds})
            md.append(f"| {title} | " + " | ".join(cells) + " |")
        md.append("")
        md.append("| PostOffice fetch is faster than ... by | " + " | ".join(columns[1:]) + " |")
        md.append("| --- |" + " --- |" * (len(columns) - 1))
        for path, title in (("loopback", "loopback"), ("10ms", f"{RELAY_DELAY_MS} ms added each way")):
            ours = values(fetches, "postoffice", {"path": path}, "seconds")
            cells = [ratio(ours, values(fetches, client, {"path": path}, "seconds"), "lower")[0]
                     for client in columns[1:]]
            md.append(f"| {title} | " + " | ".join(cells) + " |")
        md.append("")
    text = "\n".join(md)
    (out / "summary.md").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n" + text)
    return summary


def summarize_again(out: Path, plot: Path | None) -> int:
    """The tables (and charts) of an earlier run, from its results.jsonl and meta.json."""
    meta = json.loads((out / "meta.json").read_text())
    plan = Plan.make(meta["quick"], meta["runs"])
    results = Results(out / "results.jsonl")
    results.records = [json.loads(line) for line in results.path.read_text().splitlines() if line.strip()]
    summarize(plan, results, out, meta)
    if plot:
        subprocess.run([sys.executable, str(HERE / "plot.py"), str(out / "summary.json"), str(plot)], check=True)
    return 0


def machine() -> dict:
    def output(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30).stdout.decode().strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "dovecot": output([tool("dovecot"), "--version"]),
        "swift": output(["swift", "--version"]).splitlines()[0] if shutil.which("swift") else "?",
        "commit": output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "uptime": output(["uptime"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes: small counts, one run")
    parser.add_argument("--runs", type=int, help="runs of each workload (default 3; 1 with --quick)")
    parser.add_argument("--bin-dir", type=Path, default=ROOT / ".build" / "release")
    parser.add_argument("--out", type=Path, help="where results go (default: a new temporary directory)")
    parser.add_argument("--corpus", type=Path, help="corpus directory (default: a cache under the system's temp dir)")
    parser.add_argument("--only", choices=["servers", "clients"])
    parser.add_argument("--clients", default=",".join(CLIENTS),
                        help=f"the fetchers to run, comma-separated (default: all of {','.join(CLIENTS)})")
    parser.add_argument("--baseline-bin-dir", type=Path, metavar="DIR",
                        help=f"another build's directory: its postoffice runs as the fetcher '{BASELINE}' "
                             "(add it to --clients), for a before/after in one run")
    parser.add_argument("--summarize", type=Path, metavar="DIR",
                        help="only print (and --plot) the tables of an earlier run's results in DIR")
    parser.add_argument("--no-realtime", action="store_true",
                        help="run at normal priority (figures then suffer from any other load on the machine)")
    parser.add_argument("--plot", type=Path, nargs="?", const=ROOT / "docs" / "benchmarks",
                        help="write PNG charts to this directory (default docs/benchmarks)")
    args = parser.parse_args()
    # A SIGTERM (scripts/test's time bound) unwinds through the `finally`s that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.summarize:
        return summarize_again(args.summarize, args.plot)
    if os.geteuid() != 0:
        parser.error("run as root: Dovecot's mail processes and the fetchers run as the vmail user")

    plan = Plan.make(args.quick, args.runs)
    plan.clients = [client.strip() for client in args.clients.split(",") if client.strip()]
    if unknown := set(plan.clients) - set(CLIENTS) - {BASELINE}:
        parser.error(f"unknown fetcher(s) {', '.join(sorted(unknown))}; known: {', '.join(CLIENTS)}, {BASELINE}")
    if (BASELINE in plan.clients) != (args.baseline_bin_dir is not None):
        parser.error(f"--baseline-bin-dir and the fetcher '{BASELINE}' go together")
    if args.baseline_bin_dir and not os.access(args.baseline_bin_dir / "postoffice", os.X_OK):
        parser.error(f"{args.baseline_bin_dir / 'postoffice'} is missing")
    global REALTIME
    if args.no_realtime or subprocess.run([*REALTIME, "true"], stderr=subprocess.DEVNULL).returncode != 0:
        REALTIME = []
    postoffice = args.bin_dir.resolve() / "postoffice"
    bench_binary = args.bin_dir.resolve() / "postoffice-bench"
    # The fetchers' comparison runs `postoffice fetch` only; the servers' needs the generator too.
    for binary in (postoffice, bench_binary) if args.only != "clients" else (postoffice,):
        if not os.access(binary, os.X_OK):
            parser.error(f"{binary} is missing: build first (Benchmarks/compare.sh does)")
    out = args.out or Path(tempfile.mkdtemp(prefix="postoffice-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o755)
    corpus = args.corpus or Path(tempfile.gettempdir()) / f"postoffice-bench-corpus-{'quick' if args.quick else 'full'}"
    print(f"corpus: {corpus}", flush=True)
    corpus_module.ensure(corpus, args.quick)
    corpus.chmod(0o755)
    results = Results(out / "results.jsonl")
    results.path.write_text("")
    pkis = {"rsa": make_pki(out / "pki-rsa", server_key="rsa"), "ecdsa": make_pki(out / "pki-ecdsa")}
    bench = Bench(bench_binary, plan, results, corpus / "manifest.tsv")
    meta = {**machine(), "quick": plan.quick, "runs": plan.runs, "duration_s": plan.duration, "counts": plan.counts,
            "priority": " ".join(REALTIME) or "normal"}
    print(json.dumps(meta), flush=True)
    (out / "meta.json").write_text(json.dumps(meta) + "\n")

    started = time.monotonic()
    if args.only in (None, "servers"):
        for run in range(plan.runs):
            bench.run_index = run
            order = ["postoffice", "dovecot"] if run % 2 == 0 else ["dovecot", "postoffice"]
            print(f"\n== run {run + 1} of {plan.runs} ({elapsed()})", flush=True)
            for kind in order:
                server_run(kind, plan, bench, out, corpus, pkis, postoffice)
            print(f"responder ({elapsed()})", flush=True)
            responder_run(plan, bench, out, corpus, pkis["rsa"])
    if args.only in (None, "clients"):
        print(f"\n== relay check ({elapsed()})", flush=True)
        check = subprocess.run([*pinned(LOAD_CORE), sys.executable, str(HERE / "relay.py"), "--check",
                                "--delay-ms", str(RELAY_DELAY_MS)])
        if check.returncode != 0:
            results.fail("the relay check failed: the 10 ms figures would not mean what they say")
        print(f"\n== clients ({elapsed()})", flush=True)
        baseline = args.baseline_bin_dir.resolve() / "postoffice" if args.baseline_bin_dir else None
        client_phase(plan, results, out, corpus, pkis["rsa"], postoffice, baseline)
    meta["elapsed_s"] = round(time.monotonic() - started)
    meta["uptime_end"] = subprocess.run(["uptime"], stdout=subprocess.PIPE, text=True).stdout.strip()
    (out / "meta.json").write_text(json.dumps(meta) + "\n")
    summary = summarize(plan, results, out, meta)
    if args.plot:
        subprocess.run([sys.executable, str(HERE / "plot.py"), str(out / "summary.json"), str(args.plot)], check=True)
    print(f"\nresults: {out}/results.jsonl, {out}/summary.md ({meta['elapsed_s']} s)")
    if results.failures:
        print(f"{len(results.failures)} failure(s):\n" + "\n".join(f"- {f.splitlines()[0]}" for f in results.failures))
        return 1
    return 0 if summary else 1


if __name__ == "__main__":
    sys.exit(main())
