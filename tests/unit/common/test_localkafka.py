"""The local broker's prerequisites (services/common/localkafka.py): a missing tool is named with its fix."""

import pytest

from services.common.localkafka import LocalKafka, LocalKafkaError


def test_a_missing_java_is_named_with_the_command_that_installs_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn
    broker = LocalKafka(version="3.9.1", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", port=1,
                        controller_port=2)
    (broker.lib_dir).mkdir(parents=True)
    (broker.lib_dir / ".complete").write_text("3.9.1")  # jars cached: java is still needed to run them
    with pytest.raises(LocalKafkaError) as raised:
        broker.fetch()
    message = str(raised.value)
    assert message.startswith("'java' is not on PATH") and "sudo bash deploy/local/install-prerequisites.sh" in message
