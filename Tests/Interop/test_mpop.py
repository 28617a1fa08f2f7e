"""mpop (Debian's 1.4) against the server, delivering into a Maildir.

What mpop alters in saved mail, and how the comparison undoes it:
* it prepends a `Received:` trace field (folded over three lines): stripped;
* Maildir delivery writes LF line ends: compared with LF.
Nothing else differs: dot-stuffing is undone; 8-bit bytes, NULs and 1 MB lines pass through.
"""

from __future__ import annotations

import pytest

from harness import corpus
from harness.clients import Mpop
from harness.compare import assert_saved_equal

#: Also against a node whose mail and accounts are in PostgreSQL (conftest.py): either store passes.
ALSO_ON_POSTGRESQL = True


def check(messages, saved):
    assert_saved_equal(messages, saved, client="mpop", line_end="lf", strip=("Received",))


@pytest.mark.parametrize("mode,auth,password_eval", [
    ("stls", "user", False),
    ("pop3s", "plain", True),
], ids=["stls-user-password", "pop3s-plain-passwordeval"])
def test_mpop_downloads_and_deletes(server, pki, users, client_dir, mode, auth, password_eval):
    messages = corpus.standard()
    server.deliver_all("alice", messages)
    mpop = Mpop(client_dir, server, pki, "alice", users["alice"], mode=mode, keep=False,
                auth=auth, password_eval=password_eval)
    mpop.run()
    check(messages, mpop.saved())
    assert server.stored("alice") == []


def test_mpop_keep_leaves_mail_and_remembers_uidls(server, pki, users, client_dir):
    messages = corpus.standard()[:7]
    server.deliver_all("alice", messages)
    mpop = Mpop(client_dir, server, pki, "alice", users["alice"], mode="pop3s", keep=True)
    mpop.run()
    check(messages, mpop.saved())
    assert len(server.stored("alice")) == len(messages)
    # Second run: every UIDL is in mpop's uidls_file, so nothing is retrieved again.
    result = mpop.run()
    assert b"retrieving" not in result.stdout
    assert len(mpop.saved()) == len(messages)
    extra = corpus.small(7)
    server.deliver("alice", extra.data)
    mpop.run()
    check(messages + [extra], mpop.saved())
    assert len(server.stored("alice")) == len(messages) + 1


def test_mpop_many_small_messages_pipelined(server, pki, users, client_dir):
    # mpop pipelines when the server offers PIPELINING (both do).
    messages = corpus.many_small(200)
    server.deliver_all("alice", messages)
    mpop = Mpop(client_dir, server, pki, "alice", users["alice"], mode="stls", keep=False)
    mpop.run()
    check(messages, mpop.saved())
    assert server.stored("alice") == []


def test_mpop_wrong_password_changes_nothing(server, pki, users, client_dir):
    server.deliver_all("alice", corpus.standard()[:2])
    mpop = Mpop(client_dir, server, pki, "alice", "wrong-password", mode="pop3s", keep=False)
    result = mpop.run(check_codes=(77,))  # EX_NOPERM: authentication failed
    assert b"authentication failed" in result.stderr.lower()
    assert mpop.saved() == []
    assert len(server.stored("alice")) == 2
