"""A throwaway test CA and a server certificate for 127.0.0.1 / localhost, made with openssl."""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .procs import run


def protect_key(key: Path) -> None:
    """A private key readable by root and the mail user's group only (mode 0640): `postoffice
    serve` refuses a key every user may read, and Dovecot's and the clients' processes run as
    root or as the mail user."""
    key.chmod(0o640)
    if procs.is_root():
        import os
        os.chown(key, 0, procs.mail_user().pw_gid)


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


def make_pki(directory: Path, server_key: str = "ec") -> TestPKI:
    """A CA and a server certificate; the server's key is EC P-256, or RSA-2048 with `"rsa"`."""
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
    key_options = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if server_key == "rsa"
                   else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
    run(["openssl", "genpkey", *key_options, "-out", str(key)])
    run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", str(csr)])
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n"
                   "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "30", "-sha256", "-extfile", str(ext), "-out", str(cert)])
    # Readable by Dovecot's processes and by clients running as the mail user.
    for path in (ca_cert, cert):
        path.chmod(0o644)
    protect_key(key)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return TestPKI(ca_cert=ca_cert, server_cert=cert, server_key=key,
                   server_sha256=hashlib.sha256(der).hexdigest())


def issue_certificate(directory: Path, pki: TestPKI | None, names: str, *, stem: str) -> TestPKI:
    """A server key and certificate for `names` (a subjectAltName value such as
    `DNS:pop.example.test,IP:127.0.0.1`), signed by `pki`'s CA, or self-signed when `pki` is None.
    Returns a TestPKI whose CA is `pki`'s (or the certificate itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{stem}.key", directory / f"{stem}.pem"
    first_name = names.split(",")[0].split(":", 1)[1]
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)])
    if pki is None:
        run(["openssl", "req", "-x509", "-new", "-key", str(key), "-sha256", "-days", "30", "-subj", "/CN=self-signed",
             "-addext", f"subjectAltName={names}", "-out", str(cert)])
    else:
        csr, ext = directory / f"{stem}.csr", directory / f"{stem}.ext"
        ext.write_text(f"basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName={names}\n")
        run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=" + first_name, "-out", str(csr)])
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert),
             "-CAkey", str(pki.ca_cert.parent / "ca.key"), "-CAcreateserial", "-days", "30", "-sha256",
             "-extfile", str(ext), "-out", str(cert)])
    protect_key(key)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return TestPKI(ca_cert=pki.ca_cert if pki else cert, server_cert=cert, server_key=key,
                   server_sha256=hashlib.sha256(der).hexdigest())
