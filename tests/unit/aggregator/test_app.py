"""The aggregator's wiring: what build_app hands to Faust from the settings (no broker: the app is not started)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.aggregator.app import build_app
from services.common.settings import AggregatorSettings


def settings(tmp_path, **values) -> AggregatorSettings:
    return AggregatorSettings(data_dir=tmp_path, **values)


def test_a_named_worker_is_a_static_group_member(tmp_path):
    app = build_app(settings(tmp_path, aggregator_instance_id="deskpulse-aggregator-2"))
    assert app.conf.consumer_group_instance_id == "deskpulse-aggregator-2"


def test_an_unnamed_worker_uses_dynamic_membership(tmp_path):
    assert build_app(settings(tmp_path)).conf.consumer_group_instance_id is None


@pytest.mark.parametrize("name", ["", "two words", "a/b", "x" * 201])
def test_an_instance_id_kafka_would_refuse_is_refused_at_start(tmp_path, name):
    with pytest.raises(ValidationError, match="aggregator_instance_id"):
        settings(tmp_path, aggregator_instance_id=name)


def test_the_instance_id_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DESKPULSE_AGGREGATOR_INSTANCE_ID", "worker-7")
    assert settings(tmp_path).aggregator_instance_id == "worker-7"
