"""Reading the real broker in tests."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer


async def read_topic(bootstrap: str, topic: str, partitions: int, timeout_s: float = 20.0) -> list:
    """Every record of ``topic`` from the beginning up to its current end offsets."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while len(consumer.assignment()) < partitions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assigned = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        assert len(assigned) == partitions, f"{topic}: {len(assigned)} partitions assigned"
        end = await consumer.end_offsets(assigned)
        records = []
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in assigned]
            if all(position >= end[tp] for position, tp in zip(positions, assigned)):
                return records
            for batch in (await consumer.getmany(*assigned, timeout_ms=300)).values():
                records.extend(batch)
        raise AssertionError(f"{topic}: did not reach the end offsets {end} within {timeout_s} s")
    finally:
        await consumer.stop()
