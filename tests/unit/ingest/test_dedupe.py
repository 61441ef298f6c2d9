"""The deduplication cache: only acknowledged ids, all of a delivery's ids, least recent forgotten first."""

from __future__ import annotations

from services.ingest.dedupe import RecentIds


def test_a_delivery_is_seen_only_when_every_id_was_remembered():
    recent = RecentIds(10)
    recent.remember(["a", "b"])
    assert recent.all_seen(["a"]) and recent.all_seen(["a", "b"])
    assert not recent.all_seen(["a", "c"])


def test_no_ids_is_never_seen():
    recent = RecentIds(10)
    recent.remember(["a"])
    assert not recent.all_seen([])


def test_the_least_recently_remembered_id_is_forgotten_first():
    recent = RecentIds(2)
    recent.remember(["a", "b"])
    recent.remember(["a"])  # a is now the most recent
    recent.remember(["c"])
    assert not recent.all_seen(["b"])
    assert recent.all_seen(["a", "c"])


def test_asking_does_not_refresh_an_id():
    recent = RecentIds(2)
    recent.remember(["a", "b"])
    assert recent.all_seen(["a"])
    recent.remember(["c"])
    assert not recent.all_seen(["a"]) and recent.all_seen(["b", "c"])


def test_a_delivery_larger_than_the_cache_keeps_its_last_ids():
    recent = RecentIds(3)
    recent.remember(["a", "b", "c", "d", "e"])
    assert recent.all_seen(["c", "d", "e"]) and not recent.all_seen(["a"])


def test_size_zero_remembers_nothing():
    recent = RecentIds(0)
    recent.remember(["a"])
    assert not recent.all_seen(["a"])
