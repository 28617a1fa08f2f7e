"""What `postoffice serve` offers over TLS, on the implicit-TLS port and after STLS: TLS 1.2 and
1.3 only, and in TLS 1.2 only ECDHE key exchange with AEAD ciphers (no CBC: testssl.sh rates CBC
suites "average" and LUCKY13-prone). `scripts/tls-audit` runs the full testssl.sh audit
(docs/RELIABILITY.md, "TLS"); this is the quick check CI keeps.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from harness import procs
from harness.servers import PostOfficeServer


@pytest.fixture
def our_server(workdir, pki, users, postoffice_bin):
    (workdir / "server").mkdir()
    server = PostOfficeServer(workdir / "server", pki, users, postoffice_bin)
    server.start()
    yield server
    server.stop()


def handshake(server: PostOfficeServer, mode: str, context: ssl.SSLContext) -> tuple[str, str]:
    """A TLS handshake on the implicit port or after STLS; returns (protocol, cipher)."""
    port = server.pop3s_port if mode == "implicit" else server.pop3_port
    with socket.create_connection((procs.HOST, port), timeout=10) as raw:
        if mode == "stls":
            raw.recv(512)
            raw.sendall(b"STLS\r\n")
            assert raw.recv(512).startswith(b"+OK")
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version(), tls.cipher()[0]


def client(pki, *, version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.minimum_version = version
    context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    return context


MODES = ["implicit", "stls"]


@pytest.mark.parametrize("mode", MODES)
def test_tls13_and_tls12_aead_are_offered(our_server, pki, mode):
    assert handshake(our_server, mode, client(pki, version=ssl.TLSVersion.TLSv1_3))[0] == "TLSv1.3"
    for cipher in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                   "ECDHE-ECDSA-CHACHA20-POLY1305"):
        assert handshake(our_server, mode, client(pki, version=ssl.TLSVersion.TLSv1_2, ciphers=cipher)) == \
            ("TLSv1.2", cipher)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                                    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"])
def test_tls12_cbc_suites_are_refused(our_server, pki, mode, cipher):
    with pytest.raises(ssl.SSLError):
        handshake(our_server, mode, client(pki, version=ssl.TLSVersion.TLSv1_2, ciphers=cipher))


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls10_and_tls11_are_refused(our_server, pki, mode, version):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(our_server, mode, client(pki, version=version, ciphers="ALL:@SECLEVEL=0"))
