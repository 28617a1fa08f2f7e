"""`postoffice account add ADDRESS`: finding the server as mail clients do, against a test DNS
server (dnsmasq), a test HTTPS server for autoconfig files and `postoffice serve`, each test in a
network namespace of its own (harness/sites.py); then `fetch` and `mail` on the defaults.

Discovery order: RFC 6186 SRV records (_pop3s._tcp, then _pop3._tcp), Thunderbird's autoconfig
(https://autoconfig.DOMAIN/mail/config-v1.1.xml, then https://DOMAIN/.well-known/...), then
pop.DOMAIN and mail.DOMAIN probed with CAPA: implicit TLS, then STLS, never cleartext unless asked.
"""

from __future__ import annotations

import re
import stat

import pytest

from harness import corpus, terminal
from harness.dns import Zone
from harness.fetchrun import assert_exactly_once, deliver_files
from harness.sites import Site

EXIT_NETWORK, EXIT_TLS, EXIT_AUTH = 69, 76, 77

AUTOCONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>Test mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.{domain}</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
{servers}
  </emailProvider>
</clientConfig>
"""

POP3_ENTRY = """    <incomingServer type="pop3">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>{socket}</socketType>
      <username>{username}</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>"""


@pytest.fixture
def make_site(workdir, postoffice_bin):
    sites = []

    def make(zone: Zone) -> Site:
        site = Site(workdir / f"site{len(sites)}", postoffice_bin, zone)
        sites.append(site)
        return site
    yield make
    for site in sites:
        site.close()


def password_file(site: Site, password: str, name: str = "pw") -> str:
    path = site.home / name
    path.write_text(password + "\n")
    path.chmod(0o600)
    return str(path)


def text(result) -> str:
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def expect(result, code: int, *fragments: str) -> str:
    output = text(result)
    assert result.returncode == code, f"exit {result.returncode}, expected {code}\n{output}"
    for fragment in fragments:
        assert fragment in output, f"expected {fragment!r} in:\n{output}"
    return output


# -- SRV records -------------------------------------------------------------------------------

def test_srv_record_finds_the_server_then_fetch_and_mail_work_on_defaults(make_site, pki, users):
    zone = Zone(domains=["srv.test"], srv=[("_pop3s._tcp.srv.test", "mail.srv.test", 995, 0, 1)],
                addresses={"mail.srv.test": "127.0.0.1"})
    site = make_site(zone)
    server = site.postoffice(site.certificate(pki, "DNS:mail.srv.test", "mail"), users)
    messages = [corpus.small(1), corpus.small(2)]
    deliver_files(server, "alice", messages)

    result = site.postoffice_run("account", "add", "alice@srv.test", "--user", "alice",
                                 "--password-file", password_file(site, users["alice"]),
                                 "--ca-file", str(pki.ca_cert), "--yes")
    output = expect(result, 0, "SRV _pop3s._tcp.srv.test: mail.srv.test:995 (implicit TLS)",
                    "certificate verified", "2 messages", "Saved the account alice@srv.test")
    config = site.fetch_toml.read_text()
    assert 'host = "mail.srv.test"' in config and "port = 995" in config and 'tls = "implicit"' in config, config
    assert f'ca_file = "{pki.ca_cert}"' in config and "keep" not in config, config
    assert stat.S_IMODE(site.fetch_toml.stat().st_mode) == 0o600
    assert users["alice"] not in config and users["alice"] not in output

    # A plain `postoffice fetch`: every configured account, into the Maildir `mail` reads.
    fetched = site.postoffice_run("fetch")
    fetch_output = expect(fetched, 0, "alice@srv.test: 2 downloaded", f"mail in Maildir {site.maildir}")
    assert str(site.home / ".local" / "state" / "postoffice") in fetch_output
    assert_exactly_once(messages, [p.read_bytes() for p in sorted((site.maildir / "new").iterdir())])
    assert server.stored("alice") == []
    listing = site.postoffice_run("mail", "list")
    expect(listing, 0, "message 1", "message 2")


def test_srv_for_stls_only_uses_port_110_with_stls(make_site, pki, users):
    zone = Zone(domains=["stls.test"], srv=[("_pop3._tcp.stls.test", "pop3.stls.test", 110, 0, 1)],
                addresses={"pop3.stls.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:pop3.stls.test", "stls"), users, implicit=None)
    result = site.postoffice_run("account", "add", "alice@stls.test", "--user", "alice", "--keep",
                                 "--password-file", password_file(site, users["alice"]),
                                 "--ca-file", str(pki.ca_cert), "--yes")
    expect(result, 0, "SRV _pop3s._tcp.stls.test: no record", "pop3.stls.test:110 (STLS)")
    config = site.fetch_toml.read_text()
    assert 'tls = "starttls"' in config and "port = 110" in config and "keep = true" in config, config


def test_resolver_flag_asks_that_dns_server(make_site, pki, users):
    zone = Zone(domains=["res.test"], srv=[("_pop3s._tcp.res.test", "pop.res.test", 995, 0, 1)],
                addresses={"pop.res.test": "127.0.0.1"})
    site = make_site(zone)
    # The namespace's resolv.conf points at port 53, where dnsmasq is; a second dnsmasq on
    # port 5353 knows other records, and only --resolver reaches it.
    other = Zone(domains=["other.test"], srv=[("_pop3s._tcp.other.test", "pop.other.test", 995, 0, 1)],
                 addresses={"pop.other.test": "127.0.0.1"})
    directory = site.work / "dns2"
    directory.mkdir()
    from harness.dns import start_dnsmasq
    start_dnsmasq(site.namespace.start, other, directory, port=5353)
    site.postoffice(site.certificate(pki, "DNS:pop.other.test", "other"), users)
    arguments = ["account", "add", "alice@other.test", "--user", "alice", "--password-file",
                 password_file(site, users["alice"]), "--ca-file", str(pki.ca_cert), "--yes"]
    expect(site.postoffice_run(*arguments), EXIT_NETWORK, "found no POP3 server for other.test")
    expect(site.postoffice_run(*arguments, "--resolver", "127.0.0.1:5353"), 0,
           "SRV _pop3s._tcp.other.test: pop.other.test:995")
    assert 'host = "pop.other.test"' in site.fetch_toml.read_text()


def test_srv_target_outside_the_domain_is_not_used_without_confirmation(make_site, pki, users):
    zone = Zone(domains=["own.test", "provider.test"],
                srv=[("_pop3s._tcp.own.test", "pop.provider.test", 995, 0, 1)],
                addresses={"pop.provider.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:pop.provider.test", "provider"), users)
    arguments = ["account", "add", "alice@own.test", "--user", "alice", "--password-file",
                 password_file(site, users["alice"]), "--ca-file", str(pki.ca_cert)]
    expect(site.postoffice_run(*arguments, "--yes"), EXIT_NETWORK, "outside own.test",
           "--host pop.provider.test")
    # A person confirms it (RFC 8314 §5.1), then picks the defaults.
    session = terminal.run(site.argv(*arguments), terminal.answers((r"Use pop\.provider\.test", "y"),
                                                                   (r"Choice \[1\]: $", "")),
                           env=site.env(), cwd=site.home)
    assert session.returncode == 0, session.describe()
    assert 'host = "pop.provider.test"' in site.fetch_toml.read_text()


# -- autoconfig --------------------------------------------------------------------------------

def test_autoconfig_subdomain_names_the_server_and_the_user_name(make_site, pki, users):
    zone = Zone(domains=["ac.test"], addresses={"autoconfig.ac.test": "127.0.0.1",
                                                "incoming.ac.test": "127.0.0.1"})
    site = make_site(zone)
    entry = POP3_ENTRY.format(host="incoming.%EMAILDOMAIN%", port=995, socket="SSL", username="%EMAILLOCALPART%")
    site.https(site.certificate(pki, "DNS:autoconfig.ac.test", "web"),
               {"mail/config-v1.1.xml": AUTOCONFIG.format(domain="ac.test", servers=entry)})
    server = site.postoffice(site.certificate(pki, "DNS:incoming.ac.test", "incoming"), users)
    deliver_files(server, "alice", [corpus.small(1)])
    # No --user: the autoconfig file says the user name is the local part.
    result = site.postoffice_run("account", "add", "alice@ac.test", "--password-file",
                                 password_file(site, users["alice"]), "--ca-file", str(pki.ca_cert), "--yes")
    expect(result, 0, "https://autoconfig.ac.test/mail/config-v1.1.xml: incoming.ac.test:995 (implicit TLS)",
           "Logged in as alice: 1 message")
    config = site.fetch_toml.read_text()
    assert 'user = "alice"' in config and 'host = "incoming.ac.test"' in config, config


def test_autoconfig_well_known_and_implicit_tls_first(make_site, pki, users):
    zone = Zone(domains=["wk.test"], addresses={"wk.test": "127.0.0.1", "pop3.wk.test": "127.0.0.1"})
    site = make_site(zone)
    # The file lists STARTTLS before SSL; implicit TLS is preferred all the same (RFC 8314 §5.1).
    entries = "\n".join([
        POP3_ENTRY.format(host="pop3.wk.test", port=110, socket="STARTTLS", username="%EMAILADDRESS%"),
        POP3_ENTRY.format(host="pop3.wk.test", port=995, socket="SSL", username="%EMAILADDRESS%"),
    ])
    site.https(site.certificate(pki, "DNS:wk.test", "web"),
               {".well-known/autoconfig/mail/config-v1.1.xml": AUTOCONFIG.format(domain="wk.test", servers=entries)})
    site.postoffice(site.certificate(pki, "DNS:pop3.wk.test", "pop3"), users)
    result = site.postoffice_run("account", "add", "alice@wk.test", "--user", "alice", "--password-file",
                                 password_file(site, users["alice"]), "--ca-file", str(pki.ca_cert), "--yes")
    output = expect(result, 0, "https://wk.test/.well-known/autoconfig/mail/config-v1.1.xml:",
                    "pop3.wk.test:995 (implicit TLS): POP3 server, certificate verified")
    assert "autoconfig.wk.test/mail/config-v1.1.xml" in output  # asked first, not there
    assert "port = 995" in site.fetch_toml.read_text()


# -- common host names -------------------------------------------------------------------------

@pytest.mark.parametrize("listeners,expected", [
    ({}, ("port = 995", 'tls = "implicit"')),
    ({"implicit": None}, ("port = 110", 'tls = "starttls"')),
])
def test_common_host_names_are_probed_implicit_tls_first(make_site, pki, users, listeners, expected):
    zone = Zone(domains=["guess.test"], addresses={"pop.guess.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:pop.guess.test", "pop"), users, **listeners)
    result = site.postoffice_run("account", "add", "alice@guess.test", "--user", "alice", "--password-file",
                                 password_file(site, users["alice"]), "--ca-file", str(pki.ca_cert), "--yes")
    expect(result, 0, "SRV _pop3._tcp.guess.test: no record",
           "trying pop.guess.test, mail.guess.test")
    config = site.fetch_toml.read_text()
    for fragment in expected:
        assert fragment in config, config


# -- certificates ------------------------------------------------------------------------------

def test_self_signed_certificate_is_shown_and_can_be_pinned(make_site, users):
    zone = Zone(domains=["pin.test"], addresses={"pop.pin.test": "127.0.0.1"})
    site = make_site(zone)
    self_signed = site.certificate(None, "DNS:pop.pin.test", "self")
    site.postoffice(self_signed, users)
    fingerprint = "SHA256:" + ":".join(self_signed.server_sha256[i:i + 2] for i in range(0, 64, 2)).upper()
    arguments = ["account", "add", "alice@pin.test", "--user", "alice"]
    pw = password_file(site, users["alice"])

    # With --yes nothing is pinned: the refusal shows the certificate and the flag to pin it.
    refused = site.postoffice_run(*arguments, "--password-file", pw, "--yes")
    expect(refused, EXIT_TLS, "subject:     CN=self-signed", "itself (self-signed)",
           f"fingerprint: {fingerprint}", f"--fingerprint {fingerprint}")
    assert not site.fetch_toml.exists()

    # Interactively: the person sees it, pins it, types the password, keeps mail for 7 days.
    session = terminal.run(
        site.argv(*arguments),
        terminal.answers((r"pin it\)\? \[y/N\]: $", "y"), (r"Password for alice at pop\.pin\.test: $", users["alice"]),
                         (r"Choice \[1\]: $", ""), (r"Choice \[1\]: $", "")),
        env=site.env(), cwd=site.home)
    assert session.returncode == 0, session.describe()
    assert users["alice"] not in session.output, "the password was echoed"
    config = site.fetch_toml.read_text()
    assert f'fingerprint = "{fingerprint}"' in config, config
    password_path = site.home / ".config" / "postoffice" / "passwords" / "alice@pin.test"
    assert f'password_file = "{password_path}"' in config, config
    assert password_path.read_text() == users["alice"] + "\n"
    assert stat.S_IMODE(password_path.stat().st_mode) == 0o600


def test_pinned_fingerprint_flag_accepts_the_certificate(make_site, users):
    zone = Zone(domains=["pin2.test"], addresses={"pop.pin2.test": "127.0.0.1"})
    site = make_site(zone)
    self_signed = site.certificate(None, "DNS:pop.pin2.test", "self")
    site.postoffice(self_signed, users)
    result = site.postoffice_run("account", "add", "alice@pin2.test", "--user", "alice", "--keep-days", "7",
                                 "--password-file", password_file(site, users["alice"]),
                                 "--fingerprint", self_signed.server_sha256, "--yes")
    expect(result, 0, "certificate verified")
    config = site.fetch_toml.read_text()
    assert "keep_days = 7" in config and self_signed.server_sha256 in config.lower().replace(":", ""), config
    # fetch uses the pin.
    expect(site.postoffice_run("fetch"), 0, "alice@pin2.test: 0 downloaded")


def test_certificate_for_another_name_is_refused_with_the_fix(make_site, pki, users):
    zone = Zone(domains=["mismatch.test"], addresses={"pop.mismatch.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:other.test", "other"), users)
    result = site.postoffice_run("account", "add", "alice@mismatch.test", "--user", "alice", "--password-file",
                                 password_file(site, users["alice"]), "--ca-file", str(pki.ca_cert), "--yes")
    expect(result, EXIT_TLS, "is for other.test, not pop.mismatch.test", "--fingerprint SHA256:")


# -- errors a person can act on ----------------------------------------------------------------

def test_wrong_password_names_the_password_source(make_site, pki, users):
    zone = Zone(domains=["pw.test"], addresses={"pop.pw.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:pop.pw.test", "pop"), users)
    wrong = password_file(site, "not-the-password", "wrong")
    result = site.postoffice_run("account", "add", "alice@pw.test", "--user", "alice", "--password-file", wrong,
                                 "--ca-file", str(pki.ca_cert), "--yes")
    expect(result, EXIT_AUTH, "refused the login for alice", f"Check the password in {wrong}", "--user")
    assert not site.fetch_toml.exists()


def test_wrong_password_typed_may_be_typed_again(make_site, pki, users):
    zone = Zone(domains=["retry.test"], addresses={"pop.retry.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:pop.retry.test", "pop"), users)
    typed = iter(["wrong-once", users["alice"]])
    session = terminal.run(
        site.argv("account", "add", "alice@retry.test", "--user", "alice", "--ca-file", str(pki.ca_cert)),
        lambda pending: next(typed) if pending.rstrip().endswith("pop.retry.test:") else
        ("" if pending.endswith("]: ") else None),
        env=site.env(), cwd=site.home)
    assert session.returncode == 0, session.describe()
    assert "The server refused the password" in session.output


def test_no_such_domain_says_what_was_tried_and_what_to_do(make_site, users):
    site = make_site(Zone(domains=["nosuch.test"]))
    result = site.postoffice_run("account", "add", "bob@nosuch.test", "--password-file",
                                 password_file(site, "x"), "--yes")
    output = expect(result, EXIT_NETWORK, "found no POP3 server for nosuch.test", "no SRV record",
                    "no autoconfig file", "pop.nosuch.test", "Check the address", "--host NAME")
    assert "could not be resolved" in output or "does not exist" in output


def test_server_without_tls_is_refused_unless_asked_for_by_name(make_site, users):
    zone = Zone(domains=["plain.test"], addresses={"pop.plain.test": "127.0.0.1"})
    site = make_site(zone)
    site.plain_pop3("alice", users["alice"])
    arguments = ["account", "add", "alice@plain.test", "--user", "alice", "--password-file",
                 password_file(site, users["alice"]), "--yes"]
    expect(site.postoffice_run(*arguments), EXIT_TLS, "pop.plain.test port 110 offers no TLS", "--tls none")
    assert not site.fetch_toml.exists()
    result = site.postoffice_run(*arguments, "--tls", "none")
    expect(result, 0, "unencrypted", "Logged in as alice: no message waits")
    assert 'tls = "none"' in site.fetch_toml.read_text()


# -- list, test, remove ------------------------------------------------------------------------

def test_list_test_and_remove(make_site, pki, users):
    zone = Zone(domains=["admin.test"], addresses={"pop.admin.test": "127.0.0.1"})
    site = make_site(zone)
    server = site.postoffice(site.certificate(pki, "DNS:pop.admin.test", "pop"), users)
    deliver_files(server, "bob", [corpus.small(1), corpus.small(2), corpus.small(3)])
    expect(site.postoffice_run("account", "list"), 0, "No account in")
    expect(site.postoffice_run("account", "add", "bob@admin.test", "--user", "bob", "--name", "work",
                               "--password-stdin", "--ca-file", str(pki.ca_cert), "--yes",
                               input=users["bob"].encode() + b"\n"), 0, "3 messages")
    stored = site.home / ".config" / "postoffice" / "passwords" / "work"
    assert stored.read_text() == users["bob"] + "\n" and stat.S_IMODE(stored.stat().st_mode) == 0o600
    expect(site.postoffice_run("account", "list"), 0, "work: bob at pop.admin.test:995 (implicit TLS",
           f"password in {stored}")
    expect(site.postoffice_run("account", "test", "work"), 0, "work: logged in as bob", "3 messages")
    assert len(server.stored("bob")) == 3  # test changes nothing
    duplicate = site.postoffice_run("account", "add", "bob@admin.test", "--name", "work", "--password-stdin",
                                    "--yes", input=b"x\n")
    expect(duplicate, 78, "already has an account named work")
    expect(site.postoffice_run("account", "remove", "work"), 0, "Removed the account work", "Deleted its password")
    assert not stored.exists() and "[[account]]" not in site.fetch_toml.read_text()
    expect(site.postoffice_run("account", "test", "work"), 78, "no account named 'work'")


# -- where the password is kept ------------------------------------------------------------------

FAKE_PASS = """#!/bin/sh
# A stand-in for pass(1): `insert --multiline --force ENTRY` stores standard input, `show ENTRY`
# prints it.
store="$HOME/.fake-pass"
case "$1" in
  insert) [ "$2" = --multiline ] && [ "$3" = --force ] || exit 2
          mkdir -p "$store/$(dirname "$4")" && cat > "$store/$4" ;;
  show) cat "$store/$2" ;;
  *) exit 2 ;;
esac
"""

FAKE_SECRET_TOOL = """#!/bin/sh
# A stand-in for secret-tool(1): `store --label=L ATTR VALUE...` stores standard input,
# `lookup ATTR VALUE...` prints it.
case "$1" in
  store) case "$2" in --label=*) ;; *) exit 2 ;; esac
         shift 2; key=$(echo "$@" | tr ' @' '_-'); cat > "$HOME/.fake-keyring-$key" ;;
  lookup) shift; key=$(echo "$@" | tr ' @' '_-'); cat "$HOME/.fake-keyring-$key" ;;
  *) exit 2 ;;
esac
"""


def test_the_password_is_kept_where_the_person_chooses(make_site, pki, users):
    zone = Zone(domains=["keep.test"], addresses={"pop.keep.test": "127.0.0.1"})
    site = make_site(zone)
    site.postoffice(site.certificate(pki, "DNS:pop.keep.test", "pop"), users)
    tools = site.work / "bin"
    tools.mkdir()
    for name, script in [("pass", FAKE_PASS), ("secret-tool", FAKE_SECRET_TOOL)]:
        (tools / name).write_text(script)
        (tools / name).chmod(0o755)
    env = site.env()
    env["PATH"] = f"{tools}:{env['PATH']}"
    own = site.home / "my-password"
    own.write_text(users["alice"] + "\n")

    def add(name: str, choice: str, command: str | None = None):
        choices = iter([choice, ""])  # where to keep it, then the policy (default)

        def respond(pending: str):
            line = pending.rsplit("\n", 1)[-1]
            if line.endswith("pop.keep.test: "):
                return users["alice"]
            if line.startswith("Command that prints the password"):
                return command
            if line.startswith("Choice ["):
                return next(choices)
            return None
        return terminal.run(site.argv("account", "add", "alice@keep.test", "--user", "alice", "--name", name,
                                      "--ca-file", str(pki.ca_cert)), respond, env=env, cwd=site.home)

    for name, choice, command, expected in [
        ("keyring", "2", None, 'password_command = "secret-tool lookup service postoffice account keyring"'),
        ("pass", "3", None, 'password_command = "pass show postoffice/pass"'),
        ("own", "4", f"cat {own}", f'password_command = "cat {own}"'),
    ]:
        session = add(name, choice, command)
        assert session.returncode == 0, session.describe()
        assert expected in site.fetch_toml.read_text(), site.fetch_toml.read_text()
        assert users["alice"] not in site.fetch_toml.read_text()
        # fetch reads it back: `account test` logs in with it.
        checked = terminal.run(site.argv("account", "test", name), lambda _: None, env=env, cwd=site.home)
        assert checked.returncode == 0 and "logged in as alice" in checked.output, checked.describe()

    # A command that does not print the typed password is found now, not at the first fetch.
    wrong = add("wrong", "4", "echo something-else")
    assert wrong.returncode == 78 and "does not print the password you typed" in wrong.output, wrong.describe()
    assert 'name = "wrong"' not in site.fetch_toml.read_text()
