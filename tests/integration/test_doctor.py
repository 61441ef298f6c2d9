"""``deskpulse doctor`` against a real broker: the cluster answers, and the topics are checked once created."""

import asyncio

import pytest

from services.commands import doctor
from services.common.kafka import ensure_topics
from services.common.settings import Settings

pytestmark = pytest.mark.kafka


def test_doctor_finds_the_cluster_and_its_topics(kafka_bootstrap, unique_names, tmp_path):
    settings = Settings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path, events_topic=unique_names[
        "DESKPULSE_EVENTS_TOPIC"], kpis_topic=unique_names["DESKPULSE_KPIS_TOPIC"],
                        contacts_topic=unique_names["DESKPULSE_CONTACTS_TOPIC"], topic_partitions=3)
    probes = doctor.Probes(environ={"DESKPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap})
    before = {c.name: c for c in doctor.run(settings, probes)}
    assert before["kafka"].status == "ok", before["kafka"]
    assert before["topics"].status == "ok" and "created by the services at first start" in before["topics"].detail
    asyncio.run(ensure_topics(settings))
    after = {c.name: c for c in doctor.run(settings, probes)}
    assert after["topics"].detail == (f"{settings.events_topic} (3 partitions), {settings.kpis_topic} (3 partitions), "
                                      f"{settings.contacts_topic} (3 partitions)")
    unreachable = doctor.Probes(environ={"DESKPULSE_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    down = {c.name: c for c in doctor.run(settings, unreachable)}
    assert down["kafka"].status == "fail" and "topics" not in down
