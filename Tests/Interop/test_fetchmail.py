"""fetchmail (Debian's 6.4) against the server, delivering through an MDA into one file per
message.

What fetchmail alters in saved mail, and how the comparison undoes it:
* it prepends a `Received:` trace field (folded over three lines): stripped;
* with an MDA it strips CRs (its `stripcr` default): saved copies have LF line ends;
* a line longer than its 8 KiB buffer is cut every 8192 octets, and at each cut it inserts a NUL,
  usually one stray (uninitialised) byte, and a line end; whether the stray byte is there depends
  on how the TLS records fell: those two- or three-byte insertions are removed.
Nothing else differs: dot-stuffing is undone, 8-bit bytes and NULs pass through.
"""

from __future__ import annotations

import re

import pytest

from harness import corpus
from harness.clients import Fetchmail
from harness.compare import assert_saved_equal

#: Also against a node whose mail and accounts are in PostgreSQL (conftest.py): either store passes.
ALSO_ON_POSTGRESQL = True

STRIP = ("Received",)
_LONG_LINE_CUT = re.compile(rb"\x00[\x00-\xff]?\n")


def undo_long_line_cuts(data: bytes) -> bytes:
    return _LONG_LINE_CUT.sub(b"", data)


def check(messages, saved):
    assert_saved_equal(messages, saved, client="fetchmail", line_end="lf", strip=STRIP,
                       clean=undo_long_line_cuts)


@pytest.mark.parametrize("mode", ["stls", "pop3s"])
def test_fetchmail_downloads_and_deletes(server, pki, users, client_dir, mode):
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    fetchmail = Fetchmail(client_dir, server, pki, "alice", users["alice"], mode=mode, keep=False)
    fetchmail.run()
    check(messages, fetchmail.saved())
    assert server.stored("alice") == []


def test_fetchmail_keep_leaves_mail_and_remembers_uidls(server, pki, users, client_dir):
    messages = corpus.standard()[:7]
    server.deliver_all("alice", messages)
    fetchmail = Fetchmail(client_dir, server, pki, "alice", users["alice"], mode="pop3s", keep=True)
    fetchmail.run()
    check(messages, fetchmail.saved())
    assert len(server.stored("alice")) == len(messages)
    # Second poll: fetchmail's UIDL memory (.fetchids) says everything is old; exit 1 = no mail.
    result = fetchmail.run(check_codes=(1,))
    assert b"RETR" not in result.stdout
    assert len(fetchmail.saved()) == len(messages)
    # New mail arrives: only that is fetched.
    extra = corpus.small(1)
    server.deliver("alice", extra.data)
    fetchmail.run()
    check(messages + [extra], fetchmail.saved())
    assert len(server.stored("alice")) == len(messages) + 1


def test_fetchmail_many_small_messages(server, pki, users, client_dir):
    messages = corpus.many_small(100)
    server.deliver_all("alice", messages)
    fetchmail = Fetchmail(client_dir, server, pki, "alice", users["alice"], mode="stls", keep=False)
    fetchmail.run()
    check(messages, fetchmail.saved())
    assert server.stored("alice") == []


def test_fetchmail_wrong_password_changes_nothing(server, pki, users, client_dir):
    server.deliver_all("alice", corpus.standard()[:2])
    fetchmail = Fetchmail(client_dir, server, pki, "alice", "wrong-password", mode="pop3s", keep=False)
    fetchmail.run(check_codes=(3,))  # 3: authentication failed
    assert fetchmail.saved() == []
    assert len(server.stored("alice")) == 2
