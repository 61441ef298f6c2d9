"""Kafka helpers (services/common/kafka.py) that need no broker: waiting for one that does not answer."""

import logging
import socket

import pytest
from aiokafka.errors import KafkaConnectionError

from services.common.kafka import ensure_topics_when_reachable
from services.common.settings import Settings


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_broker_that_never_answers_is_tried_again_then_its_error_raised(caplog):
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{closed_port()}")
    with caplog.at_level(logging.WARNING, logger="services.common.kafka"), pytest.raises(KafkaConnectionError):
        await ensure_topics_when_reachable(settings, wait_s=0.5, first_retry_s=0.1)
    retries = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert len(retries) >= 2 and all(settings.kafka_bootstrap in m for m in retries), retries


async def test_no_wait_means_one_attempt(caplog):
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{closed_port()}")
    with caplog.at_level(logging.WARNING, logger="services.common.kafka"), pytest.raises(KafkaConnectionError):
        await ensure_topics_when_reachable(settings, wait_s=0)
    assert not [r for r in caplog.records if "does not answer" in r.getMessage()]
