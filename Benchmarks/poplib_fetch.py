#!/usr/bin/env python3
"""The simplest careful fetcher: download every message into a Maildir, then delete it.

    poplib_fetch.py HOST PORT USER PASSWORD_FILE MAILDIR
Each message is written to tmp/, fsynced, renamed into new/, then DELEted; QUIT commits.
"""
import os
import poplib
import sys
import time

host, port, user, password_file, maildir = sys.argv[1:6]
with open(password_file) as f:
    password = f.readline().rstrip("\n")
pop = poplib.POP3(host, int(port), timeout=60)
pop.user(user)
pop.pass_(password)
count, _ = pop.stat()
for number in range(1, count + 1):
    _, lines, _ = pop.retr(number)
    name = f"{time.time():.6f}.P{os.getpid()}Q{number}.poplib"
    temporary = os.path.join(maildir, "tmp", name)
    with open(temporary, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(temporary, os.path.join(maildir, "new", name))
    pop.dele(number)
pop.quit()
