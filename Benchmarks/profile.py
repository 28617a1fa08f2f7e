#!/usr/bin/env python3
"""A CPU profile of a server under one of compare.py's workloads.

    Benchmarks/profile.py postoffice|dovecot sessions|tls|retr|noop|login [--seconds 6] [--bin-dir DIR]
                          [--out DIR] [--quick]
    Benchmarks/profile.py dovecot fetch [--bin-dir DIR] [--out DIR] [--quick]

Starts the server as compare.py does (fresh copy of the corpus, pinned to core 0, real-time
priority), drives it with postoffice-bench on core 1, samples core 0 with `perf record -g` while
the load runs, and prints the top frames of the server's processes, by symbol and by thread
(the event loop, Swift's cooperative pool, NIO's thread pool; for Dovecot its processes). The
perf data stays in DIR for `perf report -i DIR/perf.data`. `login` logs in to the large
maildrop again and again (the first login is in the profile too).

`fetch` profiles the client instead: `postoffice fetch` downloads and deletes the fetch
account's messages from Dovecot exactly as compare.py's loopback run does, under
`perf record -g` on core 1, and the report shows the fetcher's frames.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402
import corpus as corpus_module  # noqa: E402
from harness.tls import make_pki  # noqa: E402

DOVECOT_COMMS = "dovecot,pop3,pop3-login,auth,config,stats,anvil,log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("server", choices=["postoffice", "dovecot"])
    parser.add_argument("workload", choices=["sessions", "tls", "retr", "noop", "login", "fetch"])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--bin-dir", type=Path, default=compare.ROOT / ".build" / "release")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="use the small corpus")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="postoffice-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o755)
    corpus = Path(tempfile.gettempdir()) / f"postoffice-bench-corpus-{'quick' if args.quick else 'full'}"
    counts = corpus_module.ensure(corpus, args.quick)
    bin_dir = args.bin_dir.resolve()
    pki = make_pki(out / "pki", server_key="rsa")
    work = compare.fresh_dir(out, "server")
    users = {"sessions": [f"s{n}" for n in range(1, counts["sessions"] + 1)],
             "tls": [f"s{n}" for n in range(1, counts["sessions"] + 1)],
             "retr": [f"r{n}" for n in range(1, counts["retr"] + 1)], "noop": ["s1"], "login": ["big"],
             "fetch": ["f1"]}[args.workload]
    compare.copy_mail(corpus, work, users)
    if args.workload == "fetch":
        if args.server != "dovecot":
            parser.error("fetch profiles the client against Dovecot: profile.py dovecot fetch")
        profile_fetch(out, work, pki, corpus, bin_dir)
        return
    server = compare.make_server(args.server, work, pki, corpus, bin_dir / "postoffice")
    server.start()
    # The process that runs postoffice (the launcher may have left a parent in between).
    server_pid = next((pid for pid in [server.process.pid, *sorted(compare.descendants(server.process.pid))]
                       if Path(f"/proc/{pid}/exe").resolve().name == "postoffice"), server.process.pid)
    bench = [*compare.pinned(compare.LOAD_CORE), str(bin_dir / "postoffice-bench")]
    pattern = "r%d:bench" if args.workload == "retr" else "s%d:bench"
    accounts = ["--account-pattern", pattern, "--account-count", str(len(users))]
    duration = str(args.seconds + 2)
    command = {
        "sessions": ["sessions", "--port", str(server.pop3_port), *accounts, "--concurrency", "64",
                     "--duration", duration],
        "tls": ["sessions", "--port", str(server.pop3s_port), "--tls", "--ca-file", str(pki.ca_cert), *accounts,
                "--concurrency", "16", "--duration", duration],
        "retr": ["retr", "--port", str(server.pop3_port), *accounts, "--sessions", str(len(users)), "--manifest",
                 str(corpus / "manifest.tsv"), "--duration", duration],
        "noop": ["noop", "--port", str(server.pop3_port), "--account-pattern", "s1:bench", "--count", "1000000"],
        "login": ["login", "--port", str(server.pop3_port), "--account-pattern", "big:bench", "--repeats", "1000",
                  "--expect-messages", str(counts["big"])],
    }[args.workload]
    try:
        load = subprocess.Popen([*bench, *command, "--label", args.server])
        time.sleep(1.5)
        perf_data = out / "perf.data"
        subprocess.run(["perf", "record", "-F", "999", "-g", "-C", compare.SERVER_CORE, "-o", str(perf_data), "--",
                        "sleep", str(args.seconds)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.workload == "login":
            load.terminate()  # a thousand logins outlast the sample
        load.wait(timeout=600)
    finally:
        server.stop()
    # PostOffice's threads carry their own names (NIO-ELT-…, the blocking pool's), so its samples
    # are picked by process id; Dovecot's processes by name.
    only = ["--pid", str(server_pid)] if args.server == "postoffice" else ["--comms", DOVECOT_COMMS]
    print_report(perf_data, only, f"{args.server} under {args.workload}: top symbols on core {compare.SERVER_CORE}")
    compare.remove_tree(work)


def profile_fetch(out: Path, work: Path, pki, corpus: Path, bin_dir: Path) -> None:
    """`postoffice fetch` from Dovecot on loopback, as compare.py runs it, under perf."""
    server = compare.DovecotServer(work, pki, {}, passwd_text=(corpus / "passwd").read_text(),
                                   launcher=compare.pinned(compare.SERVER_CORE), extra_config=compare.DOVECOT_FAST)
    server.start()
    perf_data = out / "perf.data"
    try:
        home = compare.fresh_dir(out, "client-postoffice")
        argv, env = compare.client_command("postoffice", home, server.pop3_port, bin_dir / "postoffice")
        started = time.perf_counter()
        subprocess.run(["perf", "record", "-F", "999", "-g", "-o", str(perf_data), "--", *argv], env=env, cwd=home,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"fetch took {time.perf_counter() - started:.2f} s under perf")
    finally:
        server.stop()
    print_report(perf_data, [], "postoffice fetch from Dovecot (loopback): top symbols")
    compare.remove_tree(work)


def print_report(perf_data: Path, only: list[str], title: str) -> None:
    """The top symbols, then the split by thread (or, for Dovecot, by process) name."""
    report = ["perf", "report", "-i", str(perf_data), "--no-children", "--stdio", *only]
    by_symbol = subprocess.run([*report, "--sort", "sym", "-g", "none"], stdout=subprocess.PIPE, text=True).stdout
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input=by_symbol, stdout=subprocess.PIPE,
                               text=True).stdout
    print(f"== {title}")
    print("\n".join([line for line in demangled.splitlines() if line and not line.startswith("#")][:30]))
    by_thread = subprocess.run([*report, "--sort", "comm", "-g", "none"], stdout=subprocess.PIPE, text=True).stdout
    print("\n== by thread (process) name")
    print("\n".join([line for line in by_thread.splitlines() if line and not line.startswith("#")][:12]))
    print(f"\nperf data: {perf_data}")


if __name__ == "__main__":
    main()
