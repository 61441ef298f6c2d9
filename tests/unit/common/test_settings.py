from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.settings import Settings

DOC = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name):
    assert f"`DESKPULSE_{name.upper()}`" in DOC


def test_environment_is_read_with_the_prefix(monkeypatch):
    monkeypatch.setenv("DESKPULSE_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("DESKPULSE_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    settings = Settings()
    assert settings.topic_partitions == 12 and settings.kafka_bootstrap == "k1:9092,k2:9092"


def test_bad_values_are_rejected_with_the_setting_named(monkeypatch):
    monkeypatch.setenv("DESKPULSE_TOPIC_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="topic_partitions"):
        Settings()


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().api_port = 1
