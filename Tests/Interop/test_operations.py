"""Running `postoffice serve` for real (issue 9, parts 2, 4 and 5), against the real programs.

- Privileges: started as root, `serve` binds a port below 1024 and an LMTP socket, then serves
  as `vmail`; the serving process's uids and gids are read from /proc and `ps`, a POP3 client
  logs in over the low port and mail arrives over the socket. setpriv runs it unprivileged.
- Metrics: curl scrapes `/metrics` while Python's poplib (plain, STLS and implicit TLS) and
  smtplib's LMTP client use the server, and promtool (Debian's prometheus) checks the output.
- Reload: `openssl s_client` holds a session open while the certificate files are replaced
  and SIGHUP arrives; the open session goes on, a new s_client sees the new certificate.
- Admin: `postoffice who` / `kick` over the root-only admin socket; `check-config`.
"""

from __future__ import annotations

import os
import poplib
import pwd
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import procs
from harness.mailhost import (TIMEOUT, SClient, Site, free_privileged_port, ids, metric, require_root,
                              subject)
from harness.servers import add_user, tool
from harness.tls import issue_certificate

MESSAGE = b"From: a@example.org\r\nTo: alice@example.org\r\nSubject: ops\r\n\r\nbody of the ops test\r\n"


@pytest.fixture
def make_site(workdir, pki, users, postoffice_bin):
    made: list[Site] = []

    def make(owner: str | None = procs.MAIL_USER) -> Site:
        site = Site(workdir, pki, users, postoffice_bin, owner=owner)
        made.append(site)
        return site

    yield make
    for site in made:
        site.stop()


# -- privileges ------------------------------------------------------------------------------

def test_root_binds_a_low_port_and_the_lmtp_socket_then_serves_as_the_run_as_user(make_site):
    require_root()
    site = make_site()
    vmail = pwd.getpwnam(procs.MAIL_USER)
    low = free_privileged_port()
    site.start("--run-as", procs.MAIL_USER, "--lmtp", f"unix:{site.lmtp_socket}", plain_port=low)
    pid = site.process.pid
    assert ids(pid, "Uid") == [vmail.pw_uid] * 4, site.log()
    assert ids(pid, "Gid") == [vmail.pw_gid] * 4
    # Every thread (event loops, thread pools) dropped too.
    for task in Path(f"/proc/{pid}/task").iterdir():
        assert ids(pid, "Uid") == ids(int(task.name), "Uid") == [vmail.pw_uid] * 4
    groups = Path(f"/proc/{pid}/status").read_text().split("Groups:")[1].split("\n")[0].split()
    assert groups == [str(vmail.pw_gid)], "no supplementary group of root's is kept"
    ps = procs.run([tool("ps"), "-o", "uid=,gid=,user=", "-p", str(pid)]).stdout.decode().split()
    assert ps == [str(vmail.pw_uid), str(vmail.pw_gid), procs.MAIL_USER]
    assert f"serving as {procs.MAIL_USER}:" in site.log()

    # The socket made as root belongs to the user now; mail through it lands as that user.
    assert site.lmtp_socket.stat().st_uid == vmail.pw_uid
    with smtplib.LMTP(str(site.lmtp_socket), timeout=TIMEOUT) as lmtp:
        lmtp.sendmail("a@example.org", ["alice@example.org"], MESSAGE)
    client = site.pop3()
    assert client.stat()[0] == 1
    assert b"body of the ops test" in b"\n".join(client.retr(1)[1])
    client.quit()
    stored = list((site.data / "mail/alice/Maildir").rglob("*,S=*"))
    assert stored and all(path.stat().st_uid == vmail.pw_uid for path in stored), stored
    # The admin socket stays root's, mode 0600.
    admin = site.admin_socket.stat()
    assert (admin.st_uid, admin.st_mode & 0o777) == (0, 0o600)


def test_root_without_run_as_serves_as_the_data_directorys_owner(make_site):
    require_root()
    site = make_site()
    site.start()
    assert ids(site.process.pid, "Uid")[0] == pwd.getpwnam(procs.MAIL_USER).pw_uid, site.log()
    site.pop3().quit()


def test_embedded_default_as_root_serves_on_loopback_with_a_warning(tmp_path, postoffice_bin):
    # The README's first command, as root on a fresh machine (no `postoffice` user, a data
    # directory root creates): the loopback-only embedded default serves, and says how to drop.
    require_root()
    try:
        pwd.getpwnam("postoffice")
        has_service_user = True  # root becomes that user, as on a host set up for it
    except KeyError:
        has_service_user = False
    # Unbuffered: select() must see every line that readline() has not taken yet.
    process = subprocess.Popen([postoffice_bin, "serve"], cwd=tmp_path, stdin=subprocess.DEVNULL, bufsize=0,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        listening = []
        while time.monotonic() < deadline and len(listening) < 2:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            if ready:
                line = process.stdout.readline().decode()
                if not line:
                    break
                if line.startswith("listening on 127.0.0.1:"):
                    listening.append(line)
        assert len(listening) == 2, (listening, process.poll())
        port = int(re.match(r"listening on 127\.0\.0\.1:(\d+)", listening[0]).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            assert connection.recv(512).startswith(b"+OK")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    warned = b"warning: serving as root on loopback (the embedded default)" in stderr
    assert warned != has_service_user, stderr


def test_root_refuses_to_serve_as_root_unless_told(make_site):
    require_root()
    site = make_site(owner=None)
    argv = ["serve", *site.args(), "--listen", f"{procs.HOST}:{procs.free_port()}"]
    try:
        postoffice = pwd.getpwnam("postoffice")
    except KeyError:
        postoffice = None
    if postoffice is None:
        result = site.command(*argv)
        assert result.returncode != 0
        assert b"refusing to serve as root" in result.stderr and b"--run-as" in result.stderr, result.stderr
    else:
        # A machine with the `postoffice` system user: that is whom root becomes by default.
        site.start()
        assert ids(site.process.pid, "Uid")[0] == postoffice.pw_uid
        site.stop()
    # Told to: it serves as root.
    site.start("--run-as", "root")
    assert ids(site.process.pid, "Uid") == [0, 0, 0, 0]
    assert "serving as root (--run-as root)" in site.log()


def test_run_as_needs_root(make_site):
    site = make_site()
    result = site.command("serve", *site.args(), "--listen", f"{procs.HOST}:{procs.free_port()}",
                          "--run-as", "nobody", as_user=procs.MAIL_USER)
    assert result.returncode != 0
    assert b"--run-as nobody needs root" in result.stderr, result.stderr


@pytest.mark.parametrize("what", ["key", "passwd"])
def test_secrets_open_to_every_user_are_refused_with_the_fix(make_site, what):
    site = make_site()
    path = site.key if what == "key" else site.passwd
    path.chmod(0o644)
    result = site.command("serve", *site.args(), "--listen", f"{procs.HOST}:{procs.free_port()}",
                          "--tls-cert", str(site.cert), "--tls-key", str(site.key), "--run-as", procs.MAIL_USER)
    assert result.returncode != 0
    assert f"is open to every user (mode 0644): run `chmod o-rwx {path}`".encode() in result.stderr, result.stderr


# -- metrics ---------------------------------------------------------------------------------

def test_metrics_are_scraped_during_a_session_and_pass_promtool(make_site, workdir, pki):
    site = make_site()
    port = procs.free_port()
    site.start("--run-as", procs.MAIL_USER, "--metrics", f"{procs.HOST}:{port}",
               "--lmtp", f"unix:{site.lmtp_socket}")
    # The start-up probes (one connection to each port) are sessions too: count from after them.
    deadline = time.monotonic() + TIMEOUT
    while True:
        baseline = site.scrape(port)
        probes_done = (metric(baseline, "postoffice_pop3_sessions_total", 'listener="pop3"') == 1
                       and metric(baseline, "postoffice_pop3_sessions_total", 'listener="pop3s"') == 1
                       and metric(baseline, "postoffice_pop3_sessions_open") == 0)
        if probes_done:
            break
        assert time.monotonic() < deadline, baseline
        time.sleep(0.05)
    probe_handshake_failures = metric(baseline, "postoffice_pop3_tls_handshakes_total",
                                      'listener="pop3s",result="failure"')
    assert probe_handshake_failures == 1, "the probe closed without a handshake"
    with smtplib.LMTP(str(site.lmtp_socket), timeout=TIMEOUT) as lmtp:
        lmtp.sendmail("a@example.org", ["alice@example.org"], MESSAGE)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            lmtp.sendmail("a@example.org", ["nobody@example.org"], MESSAGE)

    bad = poplib.POP3(procs.HOST, site.pop3_port, timeout=TIMEOUT)
    bad.user("alice")
    with pytest.raises(poplib.error_proto):
        bad.pass_("wrong")
    bad.quit()
    open_session = site.pop3()
    during = site.scrape(port)
    assert metric(during, "postoffice_pop3_sessions_open") >= 1
    assert metric(during, "postoffice_pop3_logins_total", 'result="success",mechanism="USER"') == 1
    assert metric(during, "postoffice_pop3_logins_total", 'result="invalid_credentials",mechanism="USER"') == 1
    size = open_session.stat()[1]
    open_session.retr(1)
    open_session.dele(1)
    open_session.quit()
    tls = poplib.POP3_SSL(procs.HOST, site.pop3s_port, context=pki.client_context(), timeout=TIMEOUT)
    tls.quit()
    stls = poplib.POP3(procs.HOST, site.pop3_port, timeout=TIMEOUT)
    stls.stls(context=pki.client_context())
    stls.quit()

    deadline = time.monotonic() + TIMEOUT
    while True:
        after = site.scrape(port)
        if metric(after, "postoffice_pop3_sessions_open") == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert metric(after, "postoffice_pop3_sessions_open") == 0
    assert metric(after, "postoffice_pop3_sessions_total", 'listener="pop3"') == 1 + 3
    assert metric(after, "postoffice_pop3_sessions_total", 'listener="pop3s"') == 1 + 1
    assert metric(after, "postoffice_pop3_messages_retrieved_total") == 1
    assert metric(after, "postoffice_pop3_retrieved_bytes_total") == size
    assert metric(after, "postoffice_pop3_messages_deleted_total") == 1
    assert metric(after, "postoffice_pop3_deleted_bytes_total") == size
    assert metric(after, "postoffice_pop3_tls_handshakes_total", 'listener="pop3s",result="success"') == 1
    assert metric(after, "postoffice_pop3_tls_handshakes_total", 'listener="pop3",result="success"') == 1
    assert metric(after, "postoffice_lmtp_deliveries_total", 'result="stored"') == 1
    assert metric(after, "postoffice_pop3_login_duration_seconds_count", 'result="success"') == 1
    assert metric(after, "postoffice_bans_total", 'kind="address"') == 0

    scraped = workdir / "metrics.txt"
    scraped.write_text(after)
    promtool = procs.run([tool("promtool"), "check", "metrics"], input=after.encode(), check=False)
    assert promtool.returncode == 0, procs.describe_result(promtool)
    # Anything but /metrics is not found.
    other = procs.run([tool("curl"), "-s", "-o", "/dev/null", "-w", "%{http_code}",
                       f"http://{procs.HOST}:{port}/"]).stdout
    assert other == b"404"


# -- reload ----------------------------------------------------------------------------------

def test_sighup_serves_the_renewed_certificate_to_new_sessions_without_dropping_one(make_site, workdir, pki,
                                                                                   users, postoffice_bin):
    site = make_site()
    config = site.work / "postoffice.toml"
    config.write_text(f'[server]\npasswd_file = "{site.passwd}"\n')
    site.start("--run-as", procs.MAIL_USER, "--config", str(config), passwd=False)
    before = SClient(site.pop3s_port, pki.ca_cert)
    try:
        assert b"CN = localhost" in subject(before.preamble)
        assert before.command("USER alice").startswith(b"+OK")
        assert before.command(f"PASS {users['alice']}").startswith(b"+OK")

        # What an ACME client's deploy hook does: new files in place, then SIGHUP. And a second
        # passwd-file named by the configuration, with an account the first one lacks.
        renewed = issue_certificate(workdir / "renewed", pki, "DNS:renewed.test,IP:127.0.0.1", stem="renewed")
        shutil.copy(renewed.server_cert, site.cert)
        shutil.copy(renewed.server_key, site.key)
        site.key.chmod(0o640)
        second = site.work / "passwd2"
        add_user(postoffice_bin, second, "carol", "carol-password")
        os.chown(second, 0, pwd.getpwnam(procs.MAIL_USER).pw_gid)
        second.chmod(0o640)
        config.write_text(f'[server]\npasswd_file = "{second}"\n')
        site.reload(expect="reloaded: new sessions use")

        after = SClient(site.pop3s_port, pki.ca_cert)
        try:
            assert b"CN = renewed.test" in subject(after.preamble), after.preamble
            assert after.command("USER carol").startswith(b"+OK")
            assert after.command("PASS carol-password").startswith(b"+OK"), "the new passwd-file is used"
            assert after.command("QUIT").startswith(b"+OK")
        finally:
            after.close()
        # The session opened before the reload is still there, on the old certificate.
        assert before.command("NOOP") == b"+OK"
        assert before.command("STAT").startswith(b"+OK")
        assert before.command("QUIT").startswith(b"+OK")
    finally:
        before.close()
    assert site.process.process.poll() is None, "the server still runs"


def test_a_reload_with_a_broken_key_keeps_serving_the_old_certificate(make_site, pki):
    site = make_site()
    site.start("--run-as", procs.MAIL_USER)
    site.key.write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    site.reload(expect="reload failed, keeping the previous configuration")
    client = SClient(site.pop3s_port, pki.ca_cert)
    try:
        assert b"CN = localhost" in subject(client.preamble)
    finally:
        client.close()


# -- admin -----------------------------------------------------------------------------------

def test_who_lists_sessions_and_kick_ends_them_over_the_root_only_socket(make_site):
    require_root()
    site = make_site()
    site.start("--run-as", procs.MAIL_USER)
    alice = site.pop3("alice")
    bob = site.pop3("bob")
    who = site.command("who", *site.args(), check=True).stdout.decode()
    assert re.search(rf"^alice\s+127\.0\.0\.1:\d+\s+pop3\s+\d+$", who, flags=re.M), who
    assert re.search(rf"^bob\s+", who, flags=re.M), who

    refused = site.command("who", *site.args(), as_user=procs.MAIL_USER)
    assert refused.returncode != 0 and b"Permission denied" in refused.stderr, refused.stderr

    kicked = site.command("kick", "alice", *site.args(), check=True).stdout.decode()
    assert "ended 1 session of alice" in kicked
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        alice.noop()
    assert bob.noop().startswith(b"+OK"), "bob's session goes on"
    bob.quit()
    assert "alice has no session open" in site.command("kick", "alice", *site.args(), check=True).stdout.decode()


def test_check_config_prints_settings_and_every_problem(make_site, workdir):
    site = make_site()
    good = site.command("check-config", *site.args(), "--tls-cert", str(site.cert), "--tls-key", str(site.key),
                        "--run-as", procs.MAIL_USER, "--metrics", "127.0.0.1:9110")
    output = good.stdout.decode()
    assert good.returncode == 0, procs.describe_result(good)
    assert f"passwd_file = {site.passwd}" in output
    assert "metrics = http://127.0.0.1:9110/metrics" in output
    assert f"run_as = {procs.MAIL_USER}" in output
    assert output.rstrip().endswith("no problems found")

    (site.work / "passwd").write_text(site.passwd.read_text() + "broken line without a colon\n")
    wrong_key = issue_certificate(workdir / "other", None, "DNS:other.test", stem="other").server_key
    wrong_key.chmod(0o644)
    bad = site.command("check-config", *site.args(), "--tls-cert", str(site.cert), "--tls-key", str(wrong_key),
                       "--run-as", "no-such-user-here")
    output = bad.stdout.decode()
    assert bad.returncode == 1, procs.describe_result(bad)
    problems = [line for line in output.splitlines() if line.startswith("problem: ")]
    assert any("there is no user 'no-such-user-here'" in p for p in problems), output
    assert any(f"the TLS key {wrong_key} is open to every user" in p for p in problems), output
    assert any("cannot be used" in p for p in problems), output
    assert any(str(site.passwd) in p and "line 3" in p for p in problems), output
    assert output.rstrip().endswith(f"{len(problems)} problems found")
