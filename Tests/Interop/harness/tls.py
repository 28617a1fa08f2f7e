"""A throwaway test CA and a server certificate for 127.0.0.1 / localhost, made with openssl."""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

from .procs import run


@dataclass(frozen=True)
class TestPKI:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    #: SHA-256 of the server certificate's DER encoding, lowercase hex without separators.
    server_sha256: str

    def client_context(self) -> ssl.SSLContext:
        """A Python TLS context that trusts only the test CA and checks the host name."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        return context


def make_pki(directory: Path) -> TestPKI:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = directory / "ca.key"
    ca_cert = directory / "ca.pem"
    key = directory / "server.key"
    csr = directory / "server.csr"
    cert = directory / "server.pem"
    ext = directory / "server.ext"

    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(ca_key)])
    run(["openssl", "req", "-x509", "-new", "-key", str(ca_key), "-sha256", "-days", "30",
         "-subj", "/CN=PostOffice Interop Test CA", "-out", str(ca_cert),
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)])
    run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", str(csr)])
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n"
                   "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "30", "-sha256", "-extfile", str(ext), "-out", str(cert)])
    # Readable by Dovecot's processes and by clients running as the mail user.
    for path in (ca_cert, cert, key):
        path.chmod(0o644)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return TestPKI(ca_cert=ca_cert, server_cert=cert, server_key=key,
                   server_sha256=hashlib.sha256(der).hexdigest())
