#!/usr/bin/env python3
"""Writes the seed corpora in Fuzzing/Corpus/<target>/ from inputs the test suites use.

Each target reads a few control bytes before its data (FuzzTarget.swift says which); the seeds
start with them. Run it again after changing a target's input layout; libFuzzer then grows
its working corpus (.build-fuzz/corpus) from these. Crash inputs turned into regression tests
may be added here too, as regression-*.
"""
import base64
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")
CRLF = b"\r\n"


def crlf(*lines):
    return CRLF.join(l.encode() if isinstance(l, str) else l for l in lines) + CRLF


SEEDS = {}


def seed(target, name, data):
    SEEDS.setdefault(target, []).append((name, data))


# pop3-command: [chunk size, expectation bits] + client lines (POP3CoreTests, ServerSession tests).
commands = crlf(
    "CAPA", "USER alice", "PASS sec ret with spaces", "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
    "STAT", "LIST", "LIST 1", "UIDL", "UIDL 2", "RETR 1", "TOP 1 10", "DELE 1", "NOOP", "RSET",
    "STLS", "UTF8", "LANG", "LANG fr", "XTND foo bar", "QUIT",
)
seed("pop3-command", "session", bytes([255, 0]) + commands)
seed("pop3-command", "auth-plain", bytes([3, 0b110]) + crlf("AUTH PLAIN", base64.b64encode(b"\0alice\0secret").decode(), "AUTH PLAIN =", "*"))
seed("pop3-command", "auth-initial", bytes([1, 0]) + crlf("AUTH SCRAM-SHA-256 " + base64.b64encode(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").decode()))
seed("pop3-command", "hostile", bytes([7, 0]) + b"list  1  \r\nuser\tx\r\nRETR 0\r\nTOP 1 -1\r\nRETR 99999999999999999999\r\n" + b"X" * 300 + b"\nNOOP\n")

# pop3-line-framer: [limit - 3, chunk size - 1] + bytes (LineFramer+Tests).
seed("pop3-line-framer", "lines", bytes([20, 3]) + b"USER a\r\nbare lf\nPASS b\r\n\r\n")
# This seed found the first bug: an overlong line took the buffered lines after it along
# (LineFramer+Tests, anOverlongLineDropsOnlyItselfWhenMoreLinesAreBuffered).
seed("pop3-line-framer", "overlong", bytes([5, 0]) + b"a" * 30 + b"\r\nok\r\n" + b"b" * 12)

# pop3-response: [chunk size, four shapes] + server bytes (ClientResponseParserTests).
seed("pop3-response", "session", bytes([63, 0, 1, 2, 0]) + crlf(
    "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
    "+OK 2 messages (320 octets)", "1 120", "2 200", ".",
    "+OK 120 octets", "From: a@example.org", "", "..dot-stuffed line", "body", ".",
    "-ERR [IN-USE] maildrop locked",
))
seed("pop3-response", "capa-sasl", bytes([5, 1, 3, 3, 0]) + crlf(
    "+OK Capability list follows", "TOP", "UIDL", "SASL PLAIN SCRAM-SHA-256", "RESP-CODES", "PIPELINING", "STLS", ".",
    "+ " + base64.b64encode(b"r=abc,s=c2FsdA==,i=4096").decode(), "+", "-ERR [AUTH] bad", "+OK [SYS/TEMP] later",
))

# dot-unstuffing: [chunk size] + a multi-line body (ClientDotUnstuffingTests).
seed("dot-unstuffing", "body", bytes([2]) + b"line one\r\n..starts with a dot\r\n.\rnot end\r\nbare\nlf\r\n.\r\n+OK next\r\n")
seed("dot-unstuffing", "unterminated", bytes([0]) + b"abc\r\n.")
seed("dot-unstuffing", "empty", bytes([4]) + b".\r\n")

# dot-stuffing-roundtrip: [encoder chunk, decoder chunk] + a stored message (DotStuffing+Tests).
seed("dot-stuffing-roundtrip", "lf-message", bytes([3, 5]) + b"Subject: x\n\n.leading dot\n..two\n.\nlast line without end")
seed("dot-stuffing-roundtrip", "crlf-message", bytes([15, 0]) + b"Subject: x\r\n\r\nbody\r\n.\r\n\r\n")
seed("dot-stuffing-roundtrip", "bare-cr", bytes([0, 0]) + b"a\rb\r\r\n.\r")
# Found by this target: messageOctets left out the line end finish() adds (DotStuffing+Tests).
seed("dot-stuffing-roundtrip", "regression-unterminated", bytes([0, 0]) + b"abc")

# sasl-server: [mechanism and answers] + LF-separated client messages (SASLTests, RFC 7677).
seed("sasl-server", "plain", bytes([0 | 0x04 | 0x08]) + b"\0alice\0secret")
seed("sasl-server", "plain-authzid", bytes([0 | 0x08]) + b"\nadmin\0alice\0secret")
seed("sasl-server", "login", bytes([1 | 0x08]) + b"\nalice\nsecret")
seed("sasl-server", "scram-rfc7677", bytes([2 | 0x04 | 0x10]) + b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO\n"
     b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
seed("sasl-server", "scram-escaped", bytes([2 | 0x10]) + b"\ny,a=admin,n=us=2Cer=3D,r=abcdef\nc=eSxhPWFkbWluLA==,r=x,p=AAAA")

# sasl-client: [mechanism] + user LF password LF server challenges (the client's nonce is spliced
# in after the first r=).
seed("sasl-client", "plain", bytes([0]) + b"alice\nsecret\n")
seed("sasl-client", "login", bytes([1]) + b"alice\nsecret\nUsername:\nPassword:\n")
seed("sasl-client", "scram-rfc7677", bytes([2]) + b"user\npencil\nr=%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
seed("sasl-client", "scram-low-iterations", bytes([2]) + b"user\npencil\nr=server,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=16\n"
     b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
seed("sasl-client", "scram-error", bytes([2]) + "us\u00e9r\npass\u00adword\nr=x,s=c2FsdA==,i=1\ne=invalid-proof".encode())
seed("sasl-client", "oauth-error", bytes([4]) + b"alice@example.org\ntoken\n{\"status\":\"invalid_token\",\"scope\":\"mail\"}\n")
seed("sasl-client", "xoauth2-error", bytes([3]) + b"alice@example.org\ntoken\n{\"status\":\"401\"}\n")

# passwd-file (PasswdFileTests, StoredPasswordTests).
seed("passwd-file", "dovecot", b"# accounts\ntim:{PLAIN}tanstaaf\n\n  # indented comment\n"
     b"ann:{SHA512-CRYPT}$6$x$y:1000:1000::/home/ann::userdb_quota_rule=*:storage=1G\r\nbob:$y$j9T$abc\n"
     b"carol:{PLAIN}secret:::Carol:/home/carol:/bin/sh:nopassword\n")
seed("passwd-file", "problems", b"good:{PLAIN}a\n../evil:{PLAIN}topsecret1\nnopassword\ngood:{PLAIN}topsecret2\n"
     b"odd:{WHIRLPOOL}topsecret3\n:{PLAIN}topsecret4\n")
seed("passwd-file", "scram", b"u:{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
     b"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\nv:{SCRAM-SHA-256}4096,xx\nw:{PLAIN.B64}c2VjcmV0\nx:{SHA256.HEX}00ff\n")

# maildir-filename (MaildirFilenameTests).
for i, name in enumerate([
    "1700000000.M123456P4242Q7.host,S=1000,W=1030:2,S",
    "1035478339.27041_118.foo.org",
    "1035478339.4242.host:2,FRS",
    "1700000000.M1P2V03E8I0001A2B3.mail\\057host\\072x,S=12:2,",
    "name:1,experimental",
]):
    seed("maildir-filename", f"name-{i}", name.encode())

# toml (TOMLTests, README configuration).
seed("toml", "config", b"""# PostOffice
title = "post \\"office\\"" # trailing comment
[server]
listen = ["127.0.0.1:110",
          "[::1]:110", ]   # multi-line array
auth_failure_delay = 2.5
idle_timeout = 1_200
allow_cleartext_auth = false
maildir = '/var/mail/%u/Maildir'
site.name = "x"

[[account]]
name = "work"
port = 995
[[account]]
name = "home"
tls = { mode = "starttls", insecure = true }
""")
seed("toml", "errors", b"a = 1\na = 2\n[t]\n[t]\nb = \"\"\"multi\"\"\"\nc = 1979-05-27\nd = \"\\u00e9\\n\"\ne = -0x1F\n")

# mime (Mailbox Fixture.corpus()).
def message(headers, body):
    return CRLF.join(h.encode() if isinstance(h, str) else h for h in headers) + CRLF + CRLF + body


seed("mime", "plain", message(["From: Alice Example <alice@example.com>", "To: Bob <bob@example.org>",
     "Subject: Lunch on Friday", "Date: Mon, 4 Mar 2024 10:00:00 +0000", "Message-ID: <LunchonFriday@test>"],
     b"Shall we meet at noon?\r\nFrom here it is ten minutes.\r\n"))
seed("mime", "encoded-words", message(["From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.fr>",
     "Subject: =?UTF-8?B?UmFwcG9ydCBtZW5zdWVs?= =?UTF-8?Q?_=C3=A9t=C3=A9?=", "Date: Thu, 7 Mar 2024 12:00:00 +0100"],
     b"Voici le rapport.\r\n"))
seed("mime", "attachments", message(["From: Carol <carol@example.net>", "To: dave@example.com", "Subject: Photos",
     "Date: Fri, 8 Mar 2024 18:45:00 +0000", "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"outer\""],
     b"This is a MIME message.\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTwo pictures.\r\n"
     b"--outer\r\nContent-Type: image/png; name=\"=?ISO-8859-1?Q?f=F6to.png?=\"\r\nContent-Disposition: attachment\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n"
     b"--outer\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgZmFrZQ==\r\n"
     b"--outer\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\ncm9vdDp4OjA6MA==\r\n--outer--\r\n"))
seed("mime", "alternative-html", message(["From: news@example.com", "Subject: Newsletter", "MIME-Version: 1.0",
     "Content-Type: multipart/alternative; boundary=b1"],
     b"--b1\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
     b"<html><head><style>p{}</style></head><body><p>Hello&nbsp;reader &amp; friend,</p><p>Read <a href=3D\"https://example.com/x\">our news</a>.</p></body></html>\r\n"
     b"--b1--\r\n"))
seed("mime", "nested-rfc822", message(["From: x@example.org", "Subject: fwd", "Content-Type: multipart/mixed; boundary=a"],
     b"--a\r\nContent-Type: message/rfc822\r\n\r\nFrom: y@example.org\r\nSubject: inner\r\nContent-Type: multipart/related; boundary=b\r\n\r\n"
     b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe\r\n--b--\r\n--a--\r\n"))
seed("mime", "broken", b"From broken@example.com Sat Jan  1 00:00:00 2000\nFrom: broken@example.com\nSubject: =?utf-8?B?not base64 at all?=\n"
     b"Date: garbage\nContent-Transfer-Encoding: base64\n\n!!!SGVsbG8gd29y bGQ=###\n")

# state-import (StateImportDetectionTests, StateImporterTests).
seed("state-import", "fetchmail", b"alice@pop.example.org 1b2c3d\nalice@POP.example.org \"quoted-uid\"\nbob@other.org x\nalice@pop.example.org\tTabbed\n")
seed("state-import", "getmail", b"uid-one\x001600000000\nuid-two\x001600000100\nbroken-line\n\x005\n")
seed("state-import", "mpop", b"# This file was generated by mpop version 1.4.18.\n#\n"
     b"# Lines starting with a space begin a new UID list and have\n"
     b"# the following format: \" number-of-uids hostname user\".\n 2 pop.example.org alice\nuid-AAA\nuid-BBB\n 0 other.example.org bob\n")
seed("state-import", "thunderbird", b"# POP3 State File\r\n# This is a generated file!  Do not edit.\r\n\r\n*pop.example.org alice\r\n"
     b"k UID-k 1600000000\r\nb UID-b 1600000002\r\nd UID-d\r\nf UID-f x\r\n")

# lmtp-command: [shell answers, chunk size] + a client's side (RFC 2033 §4.2, LMTPCoreTests).
seed("lmtp-command", "rfc2033", bytes([0, 63]) + crlf("LHLO foo.edu", "MAIL FROM:<chris@bar.com>", "RCPT TO:<pat@foo.edu>",
     "RCPT TO:<jones@foo.edu>", "RCPT TO:<green@foo.edu>", "DATA", "Blah blah blah...", "...etc. etc. etc.", ".", "QUIT"))
seed("lmtp-command", "parameters", bytes([1, 6]) + crlf("LHLO client", "MAIL FROM:<> SIZE=100 BODY=8BITMIME", 'RCPT TO:<"quoted local"@example.org>',
     "RSET", "VRFY x", "NOOP", "HELO x", "MAIL FROM: <a@[127.0.0.1]>", "RCPT TO:<postmaster>", "DATA", "..x", ".", "QUIT"))

if __name__ == "__main__":
    for target, seeds in SEEDS.items():
        directory = os.path.join(ROOT, target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for name, data in seeds:
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
    print(f"{sum(len(s) for s in SEEDS.values())} seeds for {len(SEEDS)} targets in {ROOT}")
