from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.settings import (
    AggregatorSettings,
    ApiSettings,
    CommonSettings,
    IngestSettings,
    LocalKafkaSettings,
    Settings,
)

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


# -- one class per deployable -------------------------------------------------------------------------------------

PARTS = {"ingest": IngestSettings, "aggregator": AggregatorSettings, "api": ApiSettings,
         "local broker": LocalKafkaSettings}


def test_settings_holds_exactly_the_keys_of_the_per_deployable_classes():
    keys = set().union(*(cls.model_fields for cls in PARTS.values()))
    assert keys == set(Settings.model_fields)
    assert all(isinstance(Settings(), cls) for cls in PARTS.values())  # any service accepts a Settings


def test_every_class_has_the_common_keys():
    assert set(CommonSettings.model_fields) >= {"kafka_bootstrap", "events_topic", "dlq_topic", "kpis_topic"}
    for cls in PARTS.values():
        assert set(CommonSettings.model_fields) <= set(cls.model_fields)


def test_a_key_declared_in_several_classes_is_declared_alike():
    for name, field in Settings.model_fields.items():
        for cls in PARTS.values():
            if name in cls.model_fields:
                other = cls.model_fields[name]
                assert (other.annotation, other.default, other.default_factory, other.metadata, other.description) \
                    == (field.annotation, field.default, field.default_factory, field.metadata, field.description), \
                    (name, cls.__name__)


@pytest.mark.parametrize("cls", [CommonSettings, *PARTS.values()], ids=lambda c: c.__name__)
def test_each_class_reads_the_prefixed_environment_and_is_frozen(cls, monkeypatch):
    monkeypatch.setenv("DESKPULSE_KAFKA_BOOTSTRAP", "k1:9092")
    settings = cls()
    assert settings.kafka_bootstrap == "k1:9092"
    with pytest.raises(ValidationError):
        settings.kafka_bootstrap = "other:9092"


def test_per_deployable_classes_read_their_own_keys(monkeypatch):
    monkeypatch.setenv("DESKPULSE_MAX_CLOCK_SKEW_S", "12")
    monkeypatch.setenv("DESKPULSE_API_TOKENS", "a, b")
    monkeypatch.setenv("DESKPULSE_SLA_CONFIG", "/etc/deskpulse/sla.yaml")
    assert IngestSettings().max_clock_skew_s == AggregatorSettings().max_clock_skew_s == 12
    assert [t.get_secret_value() for t in ApiSettings().api_tokens] == ["a", "b"]
    assert str(AggregatorSettings().sla_config) == str(ApiSettings().sla_config) == "/etc/deskpulse/sla.yaml"
    assert not hasattr(IngestSettings(), "api_tokens") and not hasattr(ApiSettings(), "max_body_bytes")


def test_a_deployable_does_not_validate_keys_it_does_not_read(monkeypatch):
    monkeypatch.setenv("DESKPULSE_STAFFING_SHRINKAGE", "2")
    assert IngestSettings().max_body_bytes == 1024 * 1024
    with pytest.raises(ValidationError, match="staffing_shrinkage"):
        ApiSettings()
    with pytest.raises(ValidationError, match="staffing_shrinkage"):
        Settings()


def documented_readers() -> dict[str, str]:
    rows = {}
    for line in DOC.splitlines():
        if line.startswith("| `DESKPULSE_"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0].strip("`").removeprefix("DESKPULSE_").lower()] = cells[2]
    return rows


def test_the_documented_readers_are_the_classes_that_hold_the_key():
    rows = documented_readers()
    assert set(rows) == set(Settings.model_fields)
    for name, readers in rows.items():
        expected = "all" if name in CommonSettings.model_fields else \
            ", ".join(part for part, cls in PARTS.items() if name in cls.model_fields)
        assert readers == expected, name
