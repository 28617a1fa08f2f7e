#!/usr/bin/env python3
"""Login and STAT/UIDL time against a large maildrop (issue: "a login to a 100,000-message
maildrop does not read 100,000 files").

Usage: Benchmarks/maildrop-login.py [COUNT] [POSTOFFICE_BINARY]

Makes COUNT small messages in a temporary Maildir twice — once with Dovecot-style ,S=/,W= names
(sizes come from the names) and once with bare names (sizes are counted once, then cached) —
starts `postoffice serve` on a loopback port, and times USER/PASS + STAT and UIDL three times
for each. Prints one line per measurement.
"""
import os, shutil, socket, subprocess, sys, tempfile, time, poplib

count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
binary = sys.argv[2] if len(sys.argv) > 2 else ".build/release/postoffice"
body = b"From: bench@example.org\nSubject: bench\n\nhello\n"
crlf = len(body.replace(b"\n", b"\r\n"))

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def run(named: bool):
    work = tempfile.mkdtemp(prefix="postoffice-bench-")
    try:
        new = os.path.join(work, "mail", "bench", "new")
        for d in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(work, "mail", "bench", d))
        for i in range(count):
            name = f"{1700000000 + i}.M{i}P1.bench" + (f",S={len(body)},W={crlf}" if named else "")
            with open(os.path.join(new, name), "wb") as f:
                f.write(body)
        passwd = os.path.join(work, "passwd")
        with open(passwd, "w") as f:
            f.write("bench:{PLAIN}pw\n")
        port = free_port()
        server = subprocess.Popen([binary, "serve", "--maildir", os.path.join(work, "mail", "%u"),
                                   "--passwd-file", passwd, "--listen", f"127.0.0.1:{port}",
                                   "--auth-failure-delay", "0", "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            for attempt in range(1, 4):
                start = time.perf_counter()
                pop = poplib.POP3("127.0.0.1", port, timeout=120)
                pop.user("bench"); pop.pass_("pw")
                n, size = pop.stat()
                login = time.perf_counter() - start
                pop.uidl()
                total = time.perf_counter() - start
                pop.quit()
                assert n == count and size == count * crlf, (n, size)
                kind = "names with ,W=" if named else "bare names"
                print(f"{count} messages, {kind}, login {attempt}: USER/PASS+STAT {login*1000:.0f} ms, +UIDL {total*1000:.0f} ms")
        finally:
            server.terminate(); server.wait(timeout=30)
    finally:
        shutil.rmtree(work)

run(named=True)
run(named=False)
