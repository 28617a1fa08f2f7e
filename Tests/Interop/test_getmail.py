"""getmail6 (Debian's 6.18) against the server, over implicit TLS (getmail6 has no STLS for
POP3), delivering into a Maildir, run as the mail user (getmail refuses to deliver as root).

What getmail6 alters in saved mail, and how the comparison undoes it:
* it prepends `Return-Path: <unknown>`, `Delivered-To: unknown` and a `Received:` field (folded,
  continuation indented by two spaces): stripped;
* Maildir delivery writes LF line ends: compared with LF.
Its POP3 layer is Python's poplib, which refuses lines longer than 2048 octets: the 1 MB-line
message cannot be downloaded by getmail6 and is tested on its own for "no mail lost".
"""

from __future__ import annotations

from harness import corpus
from harness.clients import Getmail
from harness.compare import assert_saved_equal

STRIP = ("Return-Path", "Delivered-To", "Received")


def downloadable():
    return [m for m in corpus.standard() if m.name != "long-line"]


def check(messages, saved):
    assert_saved_equal(messages, saved, client="getmail6", line_end="lf", strip=STRIP)


def test_getmail_downloads_and_deletes(server, pki, users, client_dir):
    messages = downloadable()
    server.deliver_all("alice", messages)
    getmail = Getmail(client_dir, server, pki, "alice", users["alice"], keep=False)
    getmail.run()
    check(messages, getmail.saved())
    assert server.stored("alice") == []


def test_getmail_keep_leaves_mail_and_remembers_uidls(server, pki, users, client_dir):
    messages = downloadable()[:6]
    server.deliver_all("alice", messages)
    getmail = Getmail(client_dir, server, pki, "alice", users["alice"], keep=True)
    getmail.run()
    check(messages, getmail.saved())
    assert len(server.stored("alice")) == len(messages)
    result = getmail.run()  # read_all = false: the oldmail file lists every UIDL already
    assert b"0 messages" in result.stdout or b"retrieved" not in result.stdout
    assert len(getmail.saved()) == len(messages)
    extra = corpus.small(3)
    server.deliver("alice", extra.data)
    getmail.run()
    check(messages + [extra], getmail.saved())
    assert len(server.stored("alice")) == len(messages) + 1


def test_getmail_many_small_messages(server, pki, users, client_dir):
    messages = corpus.many_small(100)
    server.deliver_all("alice", messages)
    getmail = Getmail(client_dir, server, pki, "alice", users["alice"], keep=False)
    getmail.run()
    check(messages, getmail.saved())
    assert server.stored("alice") == []


def test_getmail_failing_on_a_long_line_loses_no_mail(server, pki, users, client_dir):
    messages = [corpus.plain_ascii(), corpus.long_line(), corpus.small(1)]
    server.deliver_all("alice", messages)
    getmail = Getmail(client_dir, server, pki, "alice", users["alice"], keep=False)
    result = getmail.run(check_codes=(127,))  # getmail6's exit status after retrieval errors
    assert b"line too long" in result.stderr
    saved = {corpus.message_id(data): data for data in getmail.saved()}
    on_server = {corpus.message_id(data) for data in server.stored_contents("alice")}
    assert corpus.long_line().message_id in on_server, "the message the client failed on must stay"
    for message in messages:
        assert message.message_id in saved or message.message_id in on_server, f"{message.name} was lost"
    check([m for m in messages if m.message_id in saved], list(saved.values()))


def test_getmail_wrong_password_changes_nothing(server, pki, users, client_dir):
    server.deliver_all("alice", downloadable()[:2])
    getmail = Getmail(client_dir, server, pki, "alice", "wrong-password", keep=False)
    result = getmail.run(check_codes=(127,))
    assert b"POP error (b'-ERR" in result.stderr
    assert getmail.saved() == []
    assert len(server.stored("alice")) == 2
