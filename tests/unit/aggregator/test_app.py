"""The aggregator's wiring: what build_app hands to Faust from the settings (no broker: the app is not started)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from services.aggregator.app import build_app, lock_data_dir, settled
from services.aggregator.localstate import ContactStore
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


def test_standby_replicas_come_from_the_settings(tmp_path):
    assert build_app(settings(tmp_path)).conf.table_standby_replicas == 0
    app = build_app(settings(tmp_path, aggregator_standby_replicas=1))
    assert app.conf.table_standby_replicas == 1


def test_the_contact_table_is_kept_in_rocksdb_under_the_data_dir(tmp_path):
    app = build_app(settings(tmp_path))
    store = app.tables["contacts"].data
    assert isinstance(store, ContactStore)
    assert store.partition_path(3).is_relative_to(tmp_path / "faust" / "deskpulse-aggregator")


def test_a_second_worker_on_the_same_data_dir_is_refused_with_a_clear_message(tmp_path, caplog):
    held = lock_data_dir(settings(tmp_path))
    try:
        with pytest.raises(SystemExit) as exit_info:
            lock_data_dir(settings(tmp_path))
        assert exit_info.value.code == 2
        assert "give each worker on one machine its own DESKPULSE_DATA_DIR" in caplog.text
        lock_data_dir(settings(tmp_path / "other")).close()  # another directory is free
    finally:
        held.close()
    lock_data_dir(settings(tmp_path)).close()  # free again once the first worker is gone


def flux(rebalancing: bool):
    recovered = threading.Event()
    recovered.set()
    return SimpleNamespace(rebalancing=rebalancing, tables=SimpleNamespace(recovery=SimpleNamespace(completed=recovered)))


async def test_a_batch_waits_while_the_app_rebalances_but_not_during_the_revocation_that_waits_for_it():
    app = flux(rebalancing=True)
    started = asyncio.get_running_loop().time()
    await settled(app, revoking=lambda: True, poll_s=0.01, most_s=5)  # Faust's revocation waits for this batch
    assert asyncio.get_running_loop().time() - started < 0.5
    waiting = asyncio.ensure_future(settled(app, revoking=lambda: False, poll_s=0.01, most_s=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # the new assignment is recovering: the batch waits
    app.rebalancing = False
    await asyncio.wait_for(waiting, 1)
