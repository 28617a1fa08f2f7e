"""PostOffice behind Debian's HAProxy: PROXY protocol v1 and v2, plain and TLS passthrough, and
the abuse controls (per-address cap, bans, `postoffice ban`, the fail2ban filter) keyed on the
client's own address.

HAProxy (mode tcp, `send-proxy` / `send-proxy-v2`) connects to the server from 127.0.0.1, the
only trusted proxy. The clients connect to HAProxy from other loopback addresses (127.0.0.2 and
up: all of 127.0.0.0/8 is loopback on Linux), so the server's log tells the client's address from
the proxy's. The POP3 client is curl (`--interface` picks its source address); the cap is driven
with raw sockets.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from harness import corpus, procs
from harness.haproxy import HAProxy
from harness.procs import HOST
from harness.servers import PostOfficeServer, tool

FILTER = Path(__file__).resolve().parents[2] / "contrib" / "fail2ban" / "filter.d" / "postoffice.conf"


@pytest.fixture
def behind_haproxy(workdir, pki, users, postoffice_bin):
    """A PostOffice server with PROXY listeners, and HAProxy in front with four routes."""
    directory = workdir / "server"
    directory.mkdir(mode=0o755)
    proxy_port, proxy_tls_port, metrics_port = procs.free_port(), procs.free_port(), procs.free_port()
    server = PostOfficeServer(directory, pki, users, postoffice_bin, extra_args=[
        "--listen-proxy", f"{HOST}:{proxy_port}", "--listen-tls-proxy", f"{HOST}:{proxy_tls_port}",
        "--trusted-proxy", "127.0.0.1/32", "--metrics", f"{HOST}:{metrics_port}",
        "--max-connections-per-ip", "3",
        "--ban-after", "3", "--ban-window", "600", "--ban-time", "600",
    ])
    haproxy = HAProxy(workdir, {
        "plain_v1": (proxy_port, "send-proxy"),
        "plain_v2": (proxy_port, "send-proxy-v2"),
        "tls_v1": (proxy_tls_port, "send-proxy"),
        "tls_v2": (proxy_tls_port, "send-proxy-v2"),
    })
    try:
        server.start()
        for port in (proxy_port, proxy_tls_port):
            procs.wait_for_port(port, process=server.process.process, describe=server.log_text)
        server.proxy_port = proxy_port
        server.metrics_port = metrics_port
        haproxy.start()
        yield server, haproxy
    finally:
        haproxy.stop()
        server.stop()


def curl(pki, user, password, url, source, *extra, check=True):
    argv = [tool("curl"), "--silent", "--show-error", "--max-time", "30", "--cacert", str(pki.ca_cert),
            "--interface", source, "--user", f"{user}:{password}", *extra, url]
    return procs.run(argv, check=check, timeout=60)


def url(haproxy, route, path="/"):
    scheme = "pop3s" if route.startswith("tls") else "pop3"
    return f"{scheme}://{HOST}:{haproxy.ports[route]}{path}"


def server_log(server) -> str:
    return (server.work / "postoffice-serve.log").read_text("utf-8", "replace")


def wait_for_log(server, pattern: str, timeout: float = 10.0) -> re.Match:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, server_log(server), re.MULTILINE)
        if found or time.monotonic() > deadline:
            assert found, f"no log line matches {pattern!r}:\n{server_log(server)[-4000:]}"
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("route,source", [
    ("plain_v1", "127.0.0.2"), ("plain_v2", "127.0.0.3"), ("tls_v1", "127.0.0.4"), ("tls_v2", "127.0.0.5"),
])
def test_client_address_reaches_the_log(behind_haproxy, pki, users, route, source):
    server, haproxy = behind_haproxy
    messages = corpus.standard()[:3]
    server.deliver_all("alice", messages)
    extra = [] if route.startswith("tls") else ["--ssl-reqd"]  # STLS after the header
    saved = curl(pki, "alice", users["alice"], url(haproxy, route, "/1"), source, *extra).stdout
    assert saved == messages[0].wire
    # STLS on the plain routes, implicit TLS on the others: TLS either way.
    line = wait_for_log(server, rf"login ok user=alice peer={re.escape(source)}:(\d+) tls=yes ")
    assert int(line.group(1)) > 0
    assert not re.search(r"login ok user=alice peer=127\.0\.0\.1:", server_log(server)), \
        "the proxy's own address must not stand in for the client"


def test_untrusted_direct_connection_is_closed(behind_haproxy):
    server, _ = behind_haproxy
    # Straight to the PROXY listener from 127.0.0.2, which is no trusted proxy, with a forged header.
    with socket.create_connection((HOST, server.proxy_port), timeout=10, source_address=("127.0.0.2", 0)) as sock:
        sock.sendall(b"PROXY TCP4 203.0.113.9 127.0.0.1 1234 110\r\nUSER alice\r\n")
        # Closed without a word; the kernel turns a close with unread input into a reset.
        try:
            assert sock.recv(1024) == b"", "closed without a word"
        except ConnectionResetError:
            pass
    wait_for_log(server, r"refusing PROXY connection peer=127\.0\.0\.2:\d+: not a trusted proxy")
    assert "203.0.113.9" not in server_log(server)


def metric(server, series: str) -> int:
    """The value of one series (`name{labels}`) on the server's Prometheus endpoint, scraped with curl."""
    scraped = procs.run([tool("curl"), "-sS", "--max-time", "10",
                         f"http://{HOST}:{server.metrics_port}/metrics"]).stdout.decode()
    found = re.search(rf"^{re.escape(series)} (\d+)$", scraped, re.MULTILINE)
    assert found, f"no series {series}:\n{scraped}"
    return int(found.group(1))


def read_line(sock) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def test_per_address_cap_through_the_proxy(behind_haproxy):
    server, haproxy = behind_haproxy
    held = []
    try:
        for _ in range(3):
            sock = socket.create_connection((HOST, haproxy.ports["plain_v2"]), timeout=10,
                                            source_address=("127.0.0.6", 0))
            held.append(sock)
            assert read_line(sock).startswith(b"+OK")
        with socket.create_connection((HOST, haproxy.ports["plain_v1"]), timeout=10,
                                      source_address=("127.0.0.6", 0)) as fourth:
            assert read_line(fourth) == b"-ERR [SYS/TEMP] too many connections from your address, try again later\r\n"
        with socket.create_connection((HOST, haproxy.ports["plain_v1"]), timeout=10,
                                      source_address=("127.0.0.7", 0)) as other:
            assert read_line(other).startswith(b"+OK"), "another client is not affected"
    finally:
        for sock in held:
            sock.close()
    wait_for_log(server, r"refusing connection peer=127\.0\.0\.6:\d+: 3 connections open from 127\.0\.0\.6")
    assert metric(server, 'postoffice_pop3_connections_refused_total{reason="client_full"}') == 1


def test_ban_fail2ban_filter_and_ban_remove(behind_haproxy, pki, users, postoffice_bin):
    server, haproxy = behind_haproxy
    for _ in range(3):
        result = curl(pki, "alice", "wrong", url(haproxy, "tls_v2"), "127.0.0.8", check=False)
        assert result.returncode != 0
    wait_for_log(server, r"ban address=127\.0\.0\.8 key=127\.0\.0\.8 failures=3 window=600s duration=600s")
    wait_for_log(server, r"ban user=alice address=127\.0\.0\.8 ")
    assert metric(server, 'postoffice_bans_total{kind="address"}') == 1
    assert metric(server, 'postoffice_bans_total{kind="user"}') == 1

    # The banned address is refused even with the right password; another address is refused
    # for alice (banned user name) but bob logs in.
    refused = curl(pki, "alice", users["alice"], url(haproxy, "tls_v1"), "127.0.0.8", check=False)
    assert refused.returncode != 0
    wait_for_log(server, r"refusing connection peer=127\.0\.0\.8:\d+: address banned")
    assert metric(server, 'postoffice_pop3_connections_refused_total{reason="banned"}') >= 1
    assert curl(pki, "alice", users["alice"], url(haproxy, "tls_v1"), "127.0.0.9", check=False).returncode != 0
    curl(pki, "bob", users["bob"], url(haproxy, "tls_v1"), "127.0.0.9")

    # fail2ban's own tool, with the filter shipped in contrib/, against the real log.
    log_file = server.work / "postoffice-serve.log"
    checked = procs.run([tool("fail2ban-regex"), "--print-all-matched", str(log_file), str(FILTER)], timeout=60)
    output = checked.stdout.decode()
    assert re.search(r"Lines: \d+ lines, 0 ignored, 1 matched", output), output
    assert "ban address=127.0.0.8" in output
    logins = procs.run([tool("fail2ban-regex"), str(log_file), f"{FILTER}[mode=logins]"], timeout=60).stdout.decode()
    assert re.search(r"Lines: \d+ lines, 0 ignored, [4-9] matched", logins), logins

    # `postoffice ban list|remove`, through the ban file beside the data.
    ban = [str(postoffice_bin), "ban"]
    deadline = time.monotonic() + 10
    while True:
        listing = procs.run([*ban, "list", *server.site_options()], cwd=server.work).stdout.decode()
        if "address 127.0.0.8" in listing and "user alice" in listing or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "address 127.0.0.8 until " in listing and "user alice until " in listing, listing
    procs.run([*ban, "remove", "127.0.0.8", *server.site_options()], cwd=server.work)
    procs.run([*ban, "remove", "alice", *server.site_options()], cwd=server.work)
    missing = procs.run([*ban, "remove", "alice", *server.site_options()], cwd=server.work, check=False)
    assert missing.returncode == 1 and b"no ban on alice" in missing.stderr
    assert "no bans" in procs.run([*ban, "list", *server.site_options()], cwd=server.work).stdout.decode()

    # The running server sees the removal within its sync interval.
    deadline = time.monotonic() + 10
    while curl(pki, "alice", users["alice"], url(haproxy, "tls_v1"), "127.0.0.8", check=False).returncode != 0:
        assert time.monotonic() < deadline, server_log(server)[-4000:]
        time.sleep(0.3)
    wait_for_log(server, r"login ok user=alice peer=127\.0\.0\.8:")
