"""The whole mail host at once (issue 9's "done means"), each part the real program it talks to.

Debian's Postfix takes a message over SMTP (swaks) and hands it to `postoffice serve` over LMTP.
`serve` was started as root and serves as the unprivileged mail user; Debian's HAProxy stands in
front of its PROXY-protocol TLS listener (v2, TLS passed through), so the server sees each
client's own loopback address. Python's poplib downloads the message through HAProxy while the
certificate is renewed and SIGHUP arrives: the open session goes on, a new one gets the new
certificate. A scrape of the metrics endpoint counts it all, and promtool accepts the output.
"""

from __future__ import annotations

import poplib
import pwd
import re
import shutil
import socket

import pytest

from harness import procs
from harness.haproxy import HAProxy
from harness.mailhost import TIMEOUT, Site, ids, metric, require_root
from harness.postfix import PostfixInstance
from harness.servers import tool
from harness.tls import issue_certificate


class POP3FromAddress(poplib.POP3_SSL):
    """poplib's implicit-TLS client, connecting from a chosen loopback address."""

    def __init__(self, host: str, port: int, source: str, context) -> None:
        self.source = source
        super().__init__(host, port, context=context, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))
        return self.context.wrap_socket(sock, server_hostname=self.host)

    def common_name(self) -> str:
        subject = dict(part[0] for part in self.sock.getpeercert()["subject"])
        return subject["commonName"]


@pytest.fixture
def mail_host(workdir, pki, users, postoffice_bin):
    require_root()
    site = Site(workdir, pki, users, postoffice_bin, owner=procs.MAIL_USER)
    lmtp_port, proxy_tls_port, metrics_port = procs.free_port(), procs.free_port(), procs.free_port()
    postfix = PostfixInstance(f"inet:{procs.HOST}:{lmtp_port}")
    haproxy = HAProxy(workdir, {"pop3s": (proxy_tls_port, "send-proxy-v2")})
    try:
        site.start("--run-as", procs.MAIL_USER, "--lmtp", f"{procs.HOST}:{lmtp_port}",
                   "--listen-tls-proxy", f"{procs.HOST}:{proxy_tls_port}", "--trusted-proxy", "127.0.0.1/32",
                   "--metrics", f"{procs.HOST}:{metrics_port}")
        procs.wait_for_port(lmtp_port, process=site.process.process, describe=site.log)
        procs.wait_for_port(proxy_tls_port, process=site.process.process, describe=site.log)
        postfix.start()
        haproxy.start()
        site.metrics_port = metrics_port
        site.lmtp_port = lmtp_port
        yield site, postfix, haproxy
    finally:
        haproxy.stop()
        postfix.stop()
        site.stop()


def test_mail_from_postfix_is_downloaded_through_haproxy_from_an_unprivileged_reloading_server(
        mail_host, workdir, pki, users):
    site, postfix, haproxy = mail_host
    vmail = pwd.getpwnam(procs.MAIL_USER)
    assert ids(site.process.pid, "Uid") == [vmail.pw_uid] * 4, site.log()

    # In through Postfix, over LMTP, into alice's Maildir as the mail user.
    postfix.send(sender="sender@sender.test", recipients=["alice@example.org"],
                 subject="through the whole host", body="Hello Alice,\n.a leading dot\nbye")
    [delivery] = postfix.wait_for_delivery("alice@example.org", "sent")
    assert delivery["relay"] == f"127.0.0.1[127.0.0.1]:{site.lmtp_port}", delivery
    assert "250 2.0.0 <alice@example.org> Saved" in delivery["reply"], delivery
    maildir = site.data / "mail/alice/Maildir"
    [stored] = [path for path in maildir.rglob("*") if path.is_file() and path.parent.name in ("new", "cur")]
    assert stored.stat().st_uid == vmail.pw_uid

    # Out through HAProxy, from the client's own address, over TLS to the server.
    port = haproxy.ports["pop3s"]
    alice = POP3FromAddress(procs.HOST, port, "127.0.0.7", pki.client_context())
    try:
        assert alice.common_name() == "localhost"
        alice.user("alice")
        alice.pass_(users["alice"])
        assert alice.stat()[0] == 1

        # An ACME client's deploy hook: new files in place, then `systemctl reload` (SIGHUP).
        renewed = issue_certificate(workdir / "renewed", pki, "DNS:renewed.test,IP:127.0.0.1", stem="renewed")
        shutil.copy(renewed.server_cert, site.cert)
        shutil.copy(renewed.server_key, site.key)
        site.key.chmod(0o640)
        site.reload(expect="reloaded: new sessions use")

        bob = POP3FromAddress(procs.HOST, port, "127.0.0.8", pki.client_context())
        assert bob.common_name() == "renewed.test", "a session after the reload gets the new certificate"
        bob.user("bob")
        bob.pass_(users["bob"])
        assert bob.stat()[0] == 0
        bob.quit()

        # The session opened before the reload downloads and deletes, on the old certificate.
        _, lines, _ = alice.retr(1)
        text = b"\r\n".join(lines)
        assert lines[0] == b"Return-Path: <sender@sender.test>"
        assert b"Delivered-To: alice@example.org" in text
        assert b"Subject: through the whole host" in text
        assert b"Hello Alice,\r\n.a leading dot\r\nbye" in text
        alice.dele(1)
        assert alice.quit().startswith(b"+OK")
    finally:
        alice.close()
    assert not [path for path in maildir.rglob("*") if path.is_file() and path.parent.name in ("new", "cur")]

    # The log names the clients' own addresses, never HAProxy's.
    log = site.log()
    assert re.search(r"login ok user=alice peer=127\.0\.0\.7:\d+ tls=yes", log), log
    assert re.search(r"login ok user=bob peer=127\.0\.0\.8:\d+ tls=yes", log), log
    assert not re.search(r"login ok user=\w+ peer=127\.0\.0\.1:", log), log
    assert "delivered user=alice to=<alice@example.org> from=<sender@sender.test>" in log

    # And the metrics endpoint saw it all.
    scraped = site.scrape(site.metrics_port)
    assert metric(scraped, "postoffice_lmtp_deliveries_total", 'result="stored"') == 1
    assert metric(scraped, "postoffice_pop3_logins_total", 'result="success",mechanism="USER"') == 2
    assert metric(scraped, "postoffice_pop3_messages_retrieved_total") == 1
    assert metric(scraped, "postoffice_pop3_messages_deleted_total") == 1
    promtool = procs.run([tool("promtool"), "check", "metrics"], input=scraped.encode(), check=False)
    assert promtool.returncode == 0, procs.describe_result(promtool)
    assert site.process.process.poll() is None, "the server still runs"
