"""Scale-out: two `postoffice serve` nodes on one PostgreSQL database, behind Debian's HAProxy.

Everything is ours and on loopback: a PostgreSQL server from Debian's packages in a temporary
data directory (harness/postgres.py), two nodes (`serve --store URL --accounts URL`), HAProxy in
TCP mode sending PROXY v2 headers to the nodes' PROXY listeners. Real clients log in through
the balancer and download and delete mail; the maildrop lock holds across nodes; a node killed
with SIGKILL mid-session loses nothing, deletes nothing, and its lock is taken over by the other
node once the lease runs out (`--takeover-after`).
"""

from __future__ import annotations

import os
import poplib
import re
import secrets
import time

import pytest

from harness import corpus, procs
from harness.clients import Fetchmail, Mpop
from harness.cluster import Cluster, PostgresPostOfficeServer
from harness.compare import assert_saved_equal
from harness.pop3 import RawPOP3
from harness.postfix import PostfixInstance
from harness.procs import HOST
from test_fetchmail import check as check_fetchmail_saved

#: The lease time the nodes run with: short, so the takeover test takes seconds.
TAKEOVER_AFTER = 3.0


@pytest.fixture
def cluster(postgres_server, workdir, pki, users, postoffice_bin):
    directory = workdir / "cluster"
    directory.mkdir(mode=0o755)
    instance = Cluster(directory, pki, users, postoffice_bin, postgres_server, "po_" + secrets.token_hex(6),
                       takeover_after=TAKEOVER_AFTER)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


def lease_pid(cluster: Cluster, user: str) -> int | None:
    """The PID of the node holding `user`'s lease (node names are `host:pid`), if any."""
    text = cluster.sql(f"SELECT lease_node FROM mailboxes WHERE name = '{user}' AND lease_expires > now()")
    return int(text.rsplit(":", 1)[1]) if text else None


def login_after_takeover(port: int, pki, user: str, password: str, *, deadline: float) -> RawPOP3:
    """Logs in over implicit TLS, retrying while the answer is `[IN-USE]` (a lease not yet run
    out) until `deadline`; returns the logged-in session."""
    while True:
        client = RawPOP3(port, tls_context=pki.client_context())
        client.ok(f"USER {user}")
        status = client.command(f"PASS {password}")
        if status.startswith(b"+OK"):
            return client
        client.close()
        assert status.startswith(b"-ERR [IN-USE]"), status
        assert time.monotonic() < deadline, f"the lease of {user} was never taken over"
        time.sleep(0.25)


def test_real_clients_through_the_balancer(cluster, pki, users, client_dir):
    """fetchmail over STLS and mpop over implicit TLS, through HAProxy, download and delete."""
    alice_mail = corpus.standard()
    bob_mail = [corpus.small(index) for index in range(5)]
    cluster.deliver_all("alice", alice_mail)
    cluster.deliver_all("bob", bob_mail)
    assert cluster.stored_count("alice") == len(alice_mail)

    fetchmail = Fetchmail(client_dir / "fetchmail", cluster, pki, "alice", users["alice"], mode="stls", keep=False)
    fetchmail.run()
    check_fetchmail_saved(alice_mail, fetchmail.saved())
    assert cluster.stored_count("alice") == 0

    mpop = Mpop(client_dir / "mpop", cluster, pki, "bob", users["bob"], mode="pop3s", keep=False)
    mpop.run()
    assert_saved_equal(bob_mail, mpop.saved(), client="mpop", line_end="lf", strip=("Received",))
    assert cluster.stored_count("bob") == 0
    # No message body is left once no mailbox refers to it.
    assert cluster.sql("SELECT count(*) FROM messages") == "0"


def test_the_nodes_see_each_clients_own_address_through_the_balancer(cluster, pki, users):
    """HAProxy sends a PROXY v2 header: the node logs the client's address, not the balancer's."""
    with RawPOP3(cluster.pop3s_port, tls_context=pki.client_context(), source="127.0.0.2") as client:
        client.login("alice", users["alice"])
        assert client.quit().startswith(b"+OK")
    pattern = re.compile(r"login ok user=alice peer=127\.0\.0\.2:\d+ tls=yes")
    deadline = time.monotonic() + 10
    while not pattern.search(cluster.log_text()):
        assert time.monotonic() < deadline, cluster.log_text()[-4000:]
        time.sleep(0.1)


def test_both_nodes_serve_and_agree(cluster, pki, users):
    """Round robin sends consecutive sessions to different nodes; each lists the same maildrop
    with the same UIDLs and sizes, and RETR returns the same bytes."""
    messages = [corpus.small(index) for index in range(3)] + [corpus.bare_lf(), corpus.leading_dots()]
    cluster.deliver_all("alice", messages)
    seen_pids = set()
    listings = []
    for _ in range(4):
        with RawPOP3(cluster.pop3s_port, tls_context=pki.client_context()) as client:
            client.login("alice", users["alice"])
            seen_pids.add(lease_pid(cluster, "alice"))
            listings.append((client.listing(), client.uidls(), [client.retr(n) for n in range(1, 6)]))
            client.quit()
    assert seen_pids == {node.process.pid for node in cluster.nodes}
    assert all(listing == listings[0] for listing in listings)
    sizes, _, bodies = listings[0]
    assert bodies == [message.wire for message in messages]
    assert [sizes[n] for n in range(1, 6)] == [len(message.wire) for message in messages]


def test_in_use_holds_across_nodes(cluster, pki, users):
    first_node, second_node = cluster.nodes
    cluster.deliver("alice", corpus.small(1).data)
    with RawPOP3(first_node.pop3s_port, tls_context=pki.client_context()) as holder:
        holder.login("alice", users["alice"])
        assert lease_pid(cluster, "alice") == first_node.process.pid
        with RawPOP3(second_node.pop3s_port, tls_context=pki.client_context()) as other:
            other.ok("USER alice")
            status = other.command(f"PASS {users['alice']}")
            assert status.startswith(b"-ERR [IN-USE]"), status
        # Through the balancer, whichever node it picks.
        for _ in range(2):
            with RawPOP3(cluster.pop3_port) as other:
                other.ok("USER alice")
                assert other.command(f"PASS {users['alice']}").startswith(b"-ERR [IN-USE]")
        # Other users are not held up.
        with RawPOP3(second_node.pop3s_port, tls_context=pki.client_context()) as bob:
            bob.login("bob", users["bob"])
            bob.quit()
        # The holder, active all along, keeps its lease past the takeover time.
        deadline = time.monotonic() + TAKEOVER_AFTER * 1.5
        while time.monotonic() < deadline:
            holder.ok("NOOP")
            time.sleep(0.3)
        with RawPOP3(second_node.pop3s_port, tls_context=pki.client_context()) as other:
            other.ok("USER alice")
            assert other.command(f"PASS {users['alice']}").startswith(b"-ERR [IN-USE]")
        holder.ok("DELE 1")
        assert holder.quit().startswith(b"+OK")
    # QUIT released the lease: the other node opens the maildrop at once, and the deletion stuck.
    with RawPOP3(second_node.pop3s_port, tls_context=pki.client_context()) as after:
        after.login("alice", users["alice"])
        assert after.listing() == {}
        after.quit()


def test_node_killed_mid_session_loses_nothing_and_is_taken_over(cluster, pki, users):
    messages = [corpus.small(index) for index in range(4)]
    cluster.deliver_all("alice", messages)
    uidls_before = cluster.stored_uidls("alice")
    doomed, survivor = cluster.nodes
    session = RawPOP3(doomed.pop3s_port, tls_context=pki.client_context())
    session.login("alice", users["alice"])
    assert session.retr(1) == messages[0].wire
    session.ok("DELE 1")
    session.ok("DELE 2")
    killed_at = time.monotonic()
    doomed.kill()
    session.close()

    # The dead node's lease holds for the takeover time: a login through the balancer (which
    # now only reaches the survivor) is refused as in use, as on one host.
    with RawPOP3(cluster.pop3s_port, tls_context=pki.client_context()) as early:
        early.ok("USER alice")
        status = early.command(f"PASS {users['alice']}")
    if time.monotonic() - killed_at < TAKEOVER_AFTER * 0.8:
        assert status.startswith(b"-ERR [IN-USE]"), status

    # After the lease runs out the survivor takes the maildrop over: every message is there,
    # DELE without QUIT deleted nothing, UIDLs are unchanged.
    client = login_after_takeover(cluster.pop3s_port, pki, "alice", users["alice"],
                                  deadline=killed_at + TAKEOVER_AFTER * 3 + 10)
    taken_over_after = time.monotonic() - killed_at
    with client:
        assert lease_pid(cluster, "alice") == survivor.process.pid
        assert sorted(client.uidls().values()) == sorted(uidl.encode() for uidl in uidls_before)
        assert [client.retr(n) for n in range(1, 5)] == [message.wire for message in messages]
        client.ok("DELE 1")
        assert client.quit().startswith(b"+OK")
    assert taken_over_after >= TAKEOVER_AFTER * 0.9
    assert cluster.stored_uidls("alice") == uidls_before[1:]


def test_a_silent_session_taken_over_through_the_other_node_is_closed_promptly(cluster, pki, users):
    """A session gone silent on one node is taken over by a login on the other once its lease has
    run out; the first node closes it within seconds, unasked, without applying its DELE."""
    first, second = cluster.nodes
    cluster.deliver("alice", corpus.small(1).data)
    silent = RawPOP3(first.pop3_port)
    try:
        silent.login("alice", users["alice"])
        assert silent.command("DELE 1").startswith(b"+OK")
        # Nothing more from this client. The lease runs out takeover_after plus a quarter of
        # it after the last stamp; then a login on the other node takes the maildrop over.
        newer = login_after_takeover(second.pop3s_port, pki, "alice", users["alice"],
                                     deadline=time.monotonic() + TAKEOVER_AFTER * 3 + 10)
        started = time.monotonic()
        assert silent.read_line() == b"-ERR [IN-USE] session taken over by a newer login\r\n"
        with pytest.raises(ConnectionError):
            silent.read_line()
        assert time.monotonic() - started < 5
        with newer:
            assert newer.quit().startswith(b"+OK")
        assert cluster.stored_count("alice") == 1, "the taken-over session's DELE was not applied"
    finally:
        silent.close()


def test_expire_on_postgresql_removes_what_is_older_than_expire_days(cluster, pki, users):
    """`postoffice expire --store URL --accounts URL` counts each message's age from its delivery
    time in the database, per account (`expire_days` in extra_fields over the site's period)."""
    for index in range(3):
        cluster.deliver("alice", corpus.small(index).data)
    cluster.deliver("bob", corpus.small(7).data)
    old_uidls = cluster.stored_uidls("alice")[:2]
    cluster.sql("UPDATE mailbox_messages SET delivered_at = now() - interval '40 days' "
                f"WHERE uidl IN ('{old_uidls[0]}', '{old_uidls[1]}')")
    cluster.sql("UPDATE mailbox_messages SET delivered_at = now() - interval '40 days' WHERE mailbox_id = "
                "(SELECT id FROM mailboxes WHERE name = 'bob')")
    # bob keeps his mail for 60 days; the site's period is 30.
    cluster.sql("UPDATE accounts SET extra_fields = 'expire_days=60' WHERE name = 'bob'")
    site = ["--store", cluster.url, "--accounts", cluster.url, "--expire-days", "30"]
    dry = cluster.postoffice("expire", *site, "--dry-run")
    assert b"would remove 2 messages" in dry.stdout, dry.stdout
    assert cluster.stored_count("alice") == 3
    done = cluster.postoffice("expire", *site)
    assert b"removed 2 messages" in done.stdout, done.stdout
    remaining = cluster.stored_uidls("alice")
    assert len(remaining) == 1 and remaining[0] not in old_uidls
    assert cluster.stored_count("bob") == 1


def uidl_listing(port: int, user: str, password: str, pki) -> dict[bytes, bytes]:
    """UIDL → message bytes, as a server sends them."""
    with RawPOP3(port, tls_context=pki.client_context()) as client:
        client.login(user, password)
        uidls = client.uidls()
        found = {uidl: client.retr(number) for number, uidl in uidls.items()}
        client.quit()
    return found


def test_migrate_maildir_to_postgresql_and_back(cluster, workdir, pki, users, postoffice_bin):
    """`postoffice migrate` keeps what a POP3 client sees (UIDLs, bytes) and what a POP3 policy
    goes by (seen flags, delivery times); a second run copies nothing; going back to a Maildir
    tree keeps them again."""
    from harness.servers import PostOfficeServer

    source_dir = workdir / "maildir-source"
    source_dir.mkdir(mode=0o755)
    source = PostOfficeServer(source_dir, pki, users, postoffice_bin)
    messages = corpus.standard()
    source.deliver_all("alice", messages)
    source.deliver("bob", corpus.small(9).data)
    # One message read by a mail reader: in cur/ with the seen and answered flags. Its delivery
    # time is the one its name begins with (not the file's time, which readers may change).
    seen = source.stored("alice")[0]
    seen_name = seen.name.split(":")[0]
    delivered = int(seen_name.split(".")[0])
    moved = seen.parent.parent / "cur" / f"{seen_name}:2,RS"
    seen.rename(moved)
    os.utime(moved, (1_700_000_000, 1_700_000_000))
    source.start()
    try:
        before = uidl_listing(source.pop3s_port, "alice", users["alice"], pki)
    finally:
        source.stop()
    assert len(before) == len(messages)

    forward = cluster.postoffice("migrate", "--from", f"maildir:{source.maildir_template}", "--to", cluster.url)
    assert b"2 of 2 mailboxes migrated and verified" in forward.stdout, forward.stdout
    assert f"alice: {len(messages)} messages (1 seen)".encode() in forward.stdout, forward.stdout
    assert uidl_listing(cluster.pop3s_port, "alice", users["alice"], pki) == before
    assert cluster.sql(
        "SELECT mm.maildir_flags || ' ' || extract(epoch FROM mm.delivered_at)::bigint FROM mailbox_messages mm "
        f"WHERE mm.uidl = '{seen_name}'") == f"RS {delivered}"
    assert cluster.stored_count("bob") == 1

    again = cluster.postoffice("migrate", "--from", f"maildir:{source.maildir_template}", "--to", cluster.url,
                               "--user", "alice")
    assert f"alice: {len(messages)} messages".encode() in again.stdout
    assert f"0 copied, {len(messages)} already there; verified".encode() in again.stdout, again.stdout

    back_dir = workdir / "maildir-back"
    back_dir.mkdir(mode=0o755)
    back = PostOfficeServer(back_dir, pki, users, postoffice_bin)
    backward = cluster.postoffice("migrate", "--from", cluster.url, "--to", f"maildir:{back.maildir_template}")
    assert b"2 of 2 mailboxes migrated and verified" in backward.stdout, backward.stdout
    returned = back.maildir("alice") / "cur" / f"{seen_name}:2,RS"
    assert returned.is_file()
    assert returned.stat().st_mtime == delivered
    assert not any(path.parent.name == "cur" and path != returned for path in back.stored("alice"))
    back.start()
    try:
        assert uidl_listing(back.pop3s_port, "alice", users["alice"], pki) == before
    finally:
        back.stop()


def test_postfix_delivers_over_lmtp_into_postgresql_once_for_several_users(postgres_server, workdir, pki, users,
                                                                           postoffice_bin):
    """LMTP into the PostgreSQL store: Debian's Postfix hands one message for two users to a node,
    which stores its body once with an entry per user; each downloads their own copy (with their
    own Delivered-To), and the body goes when the last entry is deleted."""
    directory = workdir / "lmtp-node"
    directory.mkdir(mode=0o755)
    lmtp_port = procs.free_port()
    node = PostgresPostOfficeServer(directory, pki, users, postoffice_bin, postgres_server,
                                    "po_" + secrets.token_hex(6), extra_args=["--lmtp", f"{HOST}:{lmtp_port}"])
    postfix = PostfixInstance(f"inet:{HOST}:{lmtp_port}")
    try:
        node.start()
        procs.wait_for_port(lmtp_port, process=node.process.process, describe=node.log_text)
        postfix.start()
        postfix.send(sender="sender@sender.test", recipients=["alice@example.org", "bob@example.org"],
                     subject="to both, stored once", body="one body\n.for two users")
        for address in ("alice@example.org", "bob@example.org"):
            [delivery] = postfix.wait_for_delivery(address, "sent")
            assert f"250 2.0.0 <{address}> Saved" in delivery["reply"], delivery

        def bodies() -> int:
            return int(postgres_server.psql("SELECT count(*) FROM messages", database=node.database).strip())

        assert len(node.stored("alice")) == len(node.stored("bob")) == 1
        assert bodies() == 1, "one body for the two recipients"
        for user in ("alice", "bob"):
            client = poplib.POP3(HOST, node.pop3_port, timeout=30)
            client.stls(context=pki.client_context())
            client.user(user)
            client.pass_(users[user])
            _, lines, _ = client.retr(1)
            text = b"\r\n".join(lines)
            assert lines[0] == b"Return-Path: <sender@sender.test>"
            assert f"Delivered-To: {user}@example.org".encode() in text
            assert b"Subject: to both, stored once" in text
            assert b"one body\r\n.for two users" in text
            client.dele(1)
            assert client.quit().startswith(b"+OK")
            assert node.stored(user) == []
            assert bodies() == (1 if user == "alice" else 0), "the body goes with its last entry"
    finally:
        postfix.stop()
        node.stop()
        node.drop_database()


def test_node_killed_during_update_leaves_each_message_deleted_or_intact(cluster, pki, users):
    """UPDATE is one transaction: a node killed right after QUIT (before, during or after the
    commit; the test cannot choose) leaves either every marked message deleted or none, and
    the maildrop usable through the other node once the lease runs out."""
    messages = [corpus.small(index) for index in range(40)]
    cluster.deliver_all("alice", messages)
    before = cluster.stored_uidls("alice")
    doomed, survivor = cluster.nodes
    session = RawPOP3(doomed.pop3s_port, tls_context=pki.client_context())
    session.login("alice", users["alice"])
    for number in range(1, 31):
        session.ok(f"DELE {number}")
    session.send("QUIT")
    killed_at = time.monotonic()
    doomed.kill()
    session.abort()

    after = cluster.stored_uidls("alice")
    assert after in (before, before[30:]), f"{len(after)} of {len(before)} messages left: half an UPDATE"
    client = login_after_takeover(survivor.pop3s_port, pki, "alice", users["alice"],
                                  deadline=killed_at + TAKEOVER_AFTER * 3 + 10)
    assert [uidl.decode() for uidl in client.uidls().values()] == after
    client.quit()
