"""Debian's Postfix as the MTA in front of PostOffice's LMTP listener.

Each instance is self-contained: its own config_directory, queue_directory and data_directory
in a fresh directory under /tmp (short: Postfix's sockets live in the queue directory, and a
Unix socket path is limited to 107 bytes), an SMTP listener on a free loopback port, and a log
file (`maillog_file`). The master daemon is our child, started in the foreground in a session of its
own (so its process-group kill on shutdown reaches only its own children) and stopped by PID.
The machine's own Postfix, if any, is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from . import procs
from .procs import HOST, ManagedProcess
from .servers import tool

POSTFIX_DAEMONS = Path("/usr/lib/postfix/sbin")

# master.cf: every service the tests need, none chrooted (the LMTP socket lives outside the
# queue directory), SMTP on the test's port.
MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """A Postfix whose `virtual_transport` is `lmtp:<transport>` for the domain `example.org`.

    `transport` is Postfix's next-hop syntax: `unix:/path/to/socket` or `inet:127.0.0.1:PORT`.
    Recipients are not checked by Postfix (`smtpd_reject_unlisted_recipient = no`): the LMTP
    server decides, as with Dovecot behind Postfix. Mail for other domains fails at once
    (`default_transport = error`), so nothing ever leaves the machine.
    """

    domain = "example.org"

    def __init__(self, transport: str, *, message_size_limit: int = 10_240_000,
                 verify_recipients: bool = False) -> None:
        """`verify_recipients` turns on address verification (`reject_unverified_recipient`):
        Postfix asks the LMTP server about each recipient while the SMTP client waits, as
        docs/OPERATIONS.md recommends against backscatter."""
        self.work = Path(tempfile.mkdtemp(prefix="pf-", dir="/tmp"))
        self.transport = transport
        self.message_size_limit = message_size_limit
        self.verify_recipients = verify_recipients
        self.config_dir = self.work / "etc"
        self.queue_dir = self.work / "queue"
        self.data_dir = self.work / "data"
        self.log_path = self.work / "postfix.log"
        self.smtp_port = procs.free_port()
        self.process: ManagedProcess | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for directory in (self.config_dir, self.queue_dir, self.data_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o755)
        shutil.chown(self.data_dir, user="postfix")
        self.write_config()
        # `postfix check` creates the queue's subdirectories with their owners and modes. It
        # reports problems only to its log.
        checked = procs.run([tool("postfix"), "-c", str(self.config_dir), "check"], timeout=60, check=False)
        if checked.returncode != 0:
            raise RuntimeError(f"postfix check failed\n{procs.describe_result(checked)}\n{self.log_text()}")
        self.process = ManagedProcess([str(POSTFIX_DAEMONS / "master"), "-c", str(self.config_dir), "-d"],
                                      self.work / "master.out", new_session=True)
        procs.wait_for_port(self.smtp_port, process=self.process.process, describe=self.log_text)

    def write_config(self) -> None:
        verification = """\
smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient
unverified_recipient_reject_code = 550
""" if self.verify_recipients else ""
        (self.config_dir / "main.cf").write_text(verification + f"""\
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.interop.test
mydomain = interop.test
mydestination =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_reject_unlisted_recipient = no
virtual_mailbox_domains = {self.domain}
virtual_transport = lmtp:{self.transport}
default_transport = error:no mail leaves the interop tests
relay_transport = error:no mail leaves the interop tests
message_size_limit = {self.message_size_limit}
maillog_file = {self.log_path}
maillog_file_prefixes = {self.work}
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
# Retry deferred mail quickly; the tests also flush the queue by hand.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
""")
        (self.config_dir / "master.cf").write_text(MASTER_CF.format(host=HOST, port=self.smtp_port))

    def stop(self) -> int | None:
        """Stops the master daemon by PID (it stops its own children), then removes the
        directory unless INTEROP_KEEP is set."""
        try:
            return self.process.stop() if self.process is not None else None
        finally:
            if not os.environ.get("INTEROP_KEEP"):
                shutil.rmtree(self.work, ignore_errors=True)

    # -- mail ------------------------------------------------------------------------------

    def send(self, *, sender: str, recipients: list[str], subject: str, body: str,
             check: bool = True) -> str:
        """Submits a message over SMTP with swaks; returns swaks's transcript. With `check`, a
        refused message fails the test."""
        result = procs.run([tool("swaks"), "--server", f"{HOST}:{self.smtp_port}", "--from", sender,
                            "--to", ",".join(recipients), "--header", f"Subject: {subject}",
                            "--body", body, "--timeout", "30"], timeout=60, check=check)
        return result.stdout.decode("utf-8", "replace")

    def flush(self) -> None:
        """Asks the queue manager to retry deferred mail now (`postqueue -f`)."""
        procs.run([tool("postqueue"), "-c", str(self.config_dir), "-f"], timeout=60)

    def log_text(self) -> str:
        parts = []
        for path in (self.work / "master.out", self.log_path):
            if path.exists():
                parts.append(path.read_text("utf-8", "replace")[-8000:])
        return "\n".join(parts)

    def deliveries(self, recipient: str) -> list[dict[str, str]]:
        """The LMTP client's log lines for `recipient`, parsed (`relay`, `dsn`, `status`, `reply`)."""
        found = []
        pattern = re.compile(r"postfix/lmtp\[\d+\]: \w+: to=<" + re.escape(recipient) +
                             r">,.* relay=(?P<relay>\S+?),.* dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) \((?P<reply>.*)\)$")
        text = self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""
        for line in text.splitlines():
            match = pattern.search(line)
            if match:
                found.append(match.groupdict())
        return found

    def wait_for_delivery(self, recipient: str, status: str, *, count: int = 1,
                          timeout: float = procs.DEFAULT_TIMEOUT) -> list[dict[str, str]]:
        """Waits until the log shows `count` LMTP attempts for `recipient` with `status`."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [d for d in self.deliveries(recipient) if d["status"] == status]
            if len(matching) >= count:
                return matching
            if time.monotonic() > deadline:
                raise TimeoutError(f"no status={status} for {recipient} within {timeout} s\n{self.log_text()}")
            time.sleep(0.1)

