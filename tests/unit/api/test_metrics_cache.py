"""``/metrics`` rendering cached across scrapes is byte for byte a cold render of the same read model.

The reference is a render over a read model rebuilt from the same records (new view objects, so nothing cached
on them) with an empty scrape cache; the cached render is the same read model scraped again and again while
some scopes change, come and go, the platform pool changes and the staffing window moves on.
"""

import pytest

from services.api import metrics
from services.api.metric_cache import ScrapeCache
from services.api.metrics import Health, render
from services.api.readmodel import ReadModel
from services.api.staffing import StaffingConfig
from services.common.clock import FixedClock
from services.domain.scopes import light_scope
from tests.support.partials import encoded

MINUTE = 60_000
DAY = 86_400_000
NOW = 1_795_000_079_999  # stream time of the partials (late in a minute)
TODAY = NOW - NOW % DAY
WALL = NOW + 20_001  # publication time of every partial, and the read model's (fixed) wall clock
LATER = WALL + 600_000  # the scrapes' wall clock: after every merge, so stream times do not depend on when views merged


def _minutes(n: int, per_minute: dict) -> dict:
    start = NOW - NOW % MINUTE
    return {start - MINUTE * i: dict(per_minute) for i in range(1, n + 1)}


def records() -> list[tuple[bytes, bytes | None]]:
    out = []

    def put(scope, partition=0, **kw):
        out.append(encoded(scope, partition, stream_ms=NOW, published_ms=WALL, **kw))

    live = {"answered": 2, "handled": 2, "handle_ms": 360_000}
    for q, platform in (("billing", "zendesk"), ("sales", "zendesk"), ("chat", "intercom")):
        for p in (0, 1):
            put(f"queue/{platform}/{q}", p, minutes=_minutes(30, live),
                totals={"created": 10 + p, "frle:60": 3, "frle:600": 5, "fr_count": 6, "fr_ms": 1_000_000,
                        "answered": 4, "handled": 4, "handle_ms": 700_000, "csat_good": 2},
                live={"open": 3, "in_queue": p, "oldest_waiting_created_ms": NOW - 90_000 * (p + 1)},
                days={TODAY: {"resolved": 120, "complaints": 14}, TODAY - DAY: {"resolved": 120, "complaints": 8}})
    put("platform/zendesk", live={"agents_available": 3, "agents_busy": 2})
    put("platform/intercom", live={"agents_available": 1})
    for a in range(6):  # a3 gets far more complaints than the other agents of billing: an outlier
        put(f"agent/zendesk/a{a}", totals={"replies": 5 + a, "replies@email": 5, "handled": a},
            live={"open": a}, agent={"state": "busy" if a % 2 else "available", "since_ms": NOW - a * 1_000,
                                     "raw_state": None})
        put(light_scope("queue_agent", "zendesk", "billing", f"a{a}"),
            days={TODAY: {"resolved": 20, "complaints": 9 if a == 3 else 1},
                  TODAY - DAY: {"resolved": 20, "complaints": 1}})
    put(light_scope("queue_category", "zendesk", "billing", "refunds"),
        days={TODAY: {"resolved": 40, "complaints": 12}, TODAY - DAY: {"resolved": 40, "complaints": 2}})
    put("category/refunds", totals={"created": 7, "frle:60": 1})
    put("all", totals={"created": 33}, live={"open": 9})
    return out


def model_of(recs) -> ReadModel:
    model = ReadModel(clock=FixedClock(WALL))
    for key, value in recs:
        model.apply(key, value)
    model.caught_up = True
    return model


def cold(recs, order: list[str], health: Health, staffing: StaffingConfig | None) -> bytes:
    """A render with nothing cached: new views from the same records (in the scopes' ``order``: a scrape lists
    the views cached on the read model first), an empty scrape cache."""
    fresh = {view.scope: view for view in model_of(recs).views()}
    assert sorted(fresh) == sorted(order)
    return render([fresh[scope] for scope in order], health, staffing, ScrapeCache())


def health_at(wall_ms: int) -> Health:
    return Health(ready=True, stale_seconds=1.5, stream_ms=NOW, wall_s=wall_ms / 1000)


@pytest.mark.parametrize("staffing", [None, StaffingConfig(window="15m", shrinkage=0.2)])
def test_cached_scrapes_equal_cold_renders_while_scopes_change(staffing):
    recs = records()
    model = model_of(recs)
    wall = LATER

    order: list[str] = []

    def scrape() -> bytes:
        copy = model.copy()
        views = copy.views()
        order[:] = [view.scope for view in views]
        body = render(views, health_at(wall), staffing)
        model.adopt(copy.merged)
        return body

    first = scrape()
    assert first == cold(recs, order, health_at(wall), staffing)
    assert b"deskpulse_outlier_agent{" in first and b'verdict="agent-level"' in first  # findings are rendered
    assert b"deskpulse_staffing_agents_needed{" in first
    assert scrape() == first  # warm: nothing changed

    def change(key: bytes, value: bytes | None) -> None:
        recs.append((key, value))
        model.apply(key, value)

    steps = [
        # a queue's partial replaced, with a new le bound for every queue's histogram
        lambda: change(*encoded("queue/zendesk/billing", 1, stream_ms=NOW, published_ms=WALL,
                                totals={"created": 99, "frle:120": 4, "fr_count": 7},
                                minutes=_minutes(30, {"answered": 5, "handled": 5, "handle_ms": 900_000}))),
        # an agent's presence changes; another agent goes (tombstone); a new one comes
        lambda: change(*encoded("agent/zendesk/a1", 0, stream_ms=NOW, published_ms=WALL,
                                agent={"state": "away", "since_ms": NOW, "raw_state": None})),
        lambda: change(b"agent/zendesk/a5#0", None),
        lambda: change(*encoded("agent/intercom/b1", 0, stream_ms=NOW, published_ms=WALL, totals={"replies": 1})),
        # the platform's pool changes: the staffing figures of its queues follow
        lambda: change(*encoded("platform/zendesk", 0, stream_ms=NOW, published_ms=WALL,
                                live={"agents_available": 9, "agents_busy": 4})),
        # the outlier agent improves; a queue goes away
        lambda: change(*encoded(light_scope("queue_agent", "zendesk", "billing", "a3"), 0, stream_ms=NOW,
                                published_ms=WALL, days={TODAY: {"resolved": 20, "complaints": 1}})),
        lambda: [change(b"queue/intercom/chat#0", None), change(b"queue/intercom/chat#1", None)],
    ]
    previous = first
    for step in steps:
        step()
        body = scrape()
        assert body == cold(recs, order, health_at(wall), staffing)
        assert body != previous
        previous = body
    assert b'verdict="agent-level"' not in previous and b'queue="chat"' not in previous and b'agent="a5"' not in previous
    # the wall clock moves on: the staffing window (whole minutes before stream time) moves with it
    for minutes in (1, 5, 40):
        wall = LATER + minutes * MINUTE
        assert scrape() == cold(recs, order, health_at(wall), staffing)


def test_a_warm_scrape_renders_no_scope_again(monkeypatch):
    model = model_of(records())
    views = model.views()
    first = render(views, health_at(LATER))
    built = []
    for name in ("_queue_text", "_agent_text", "_staffing_text", "_outlier_text", "_name_text"):
        original = getattr(metrics, name)
        monkeypatch.setattr(metrics, name, lambda *a, _f=original, _n=name: built.append(_n) or _f(*a))
    assert render(views, health_at(LATER)) == first
    assert built == []
    key, value = encoded("agent/zendesk/a2", 0, stream_ms=NOW, published_ms=WALL, totals={"replies": 50})
    model.apply(key, value)
    render(model.views(), health_at(LATER))
    assert built == ["_agent_text", "_name_text"]  # only the changed scope


@pytest.fixture
def computed(monkeypatch):
    """Counts of the Erlang C forecasts and outlier judgements computed while the test runs (``take`` resets)."""
    from services.api import outliers
    from services.domain import erlang

    counts = {"forecasts": 0, "judgements": 0}

    def counting(name, original):
        def call(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)
        return call

    monkeypatch.setattr(erlang, "forecast", counting("forecasts", erlang.forecast))
    monkeypatch.setattr(outliers, "judge", counting("judgements", outliers.judge))

    def take() -> dict[str, int]:
        out = dict(counts)
        counts.update(forecasts=0, judgements=0)
        return out

    return take


def test_a_scrape_of_unchanged_data_computes_no_forecast_and_no_judgement(computed):
    model = model_of(records())
    # stream time is late in a minute at LATER: 30 s before is the same staffing minute and the same local day
    first = render(model.views(), health_at(LATER - 30_000))
    assert computed() == {"forecasts": 3, "judgements": 6}  # 3 queues with live contacts; 2 periods each
    assert render(model.views(), health_at(LATER - 30_000)) == first
    assert render(model.views(), health_at(LATER)) == first
    assert computed() == {"forecasts": 0, "judgements": 0}


def test_a_change_makes_the_next_scrape_current_computing_only_what_it_touches(computed):
    recs = records()
    model = model_of(recs)
    wall = LATER

    def scrape(expected: dict[str, int]) -> bytes:
        """A scrape, checked against a cold render of the same records and for what it computed."""
        views = model.views()
        body = render(views, health_at(wall))
        assert computed() == expected
        assert body == cold(recs, [view.scope for view in views], health_at(wall), None)
        computed()  # the cold render's
        return body

    def change(key: bytes, value: bytes | None) -> None:
        recs.append((key, value))
        model.apply(key, value)

    first = scrape({"forecasts": 3, "judgements": 6})
    assert b'deskpulse_outlier_agent{platform="zendesk",queue="billing",agent="a3"' in first

    # one agent of billing improves: billing is judged again (both periods), nothing else
    change(*encoded(light_scope("queue_agent", "zendesk", "billing", "a3"), 0, stream_ms=NOW, published_ms=WALL,
                    days={TODAY: {"resolved": 20, "complaints": 1}}))
    assert b"deskpulse_outlier_agent{" not in scrape({"forecasts": 0, "judgements": 2})

    # a queue's partial: its forecast and its judgements
    change(*encoded("queue/intercom/chat", 1, stream_ms=NOW, published_ms=WALL, live={"in_queue": 3},
                    minutes=_minutes(30, {"answered": 9, "handled": 9, "handle_ms": 2_700_000})))
    body = scrape({"forecasts": 1, "judgements": 2})
    assert b'deskpulse_contacts_in_queue{platform="intercom",queue="chat"} 3\n' in body

    # a platform's pool: the forecasts of its queues (billing, sales)
    change(*encoded("platform/zendesk", 0, stream_ms=NOW, published_ms=WALL,
                    live={"agents_available": 12, "agents_busy": 1}))
    body = scrape({"forecasts": 2, "judgements": 0})
    assert b'deskpulse_staffing_agents_available{platform="zendesk",queue="billing"} 13\n' in body

    # an agent's presence: neither (the pool is the platform's figure)
    change(*encoded("agent/zendesk/a1", 0, stream_ms=NOW, published_ms=WALL,
                    agent={"state": "away", "since_ms": NOW, "raw_state": None}))
    assert b'agent="a1",state="away"' in scrape({"forecasts": 0, "judgements": 0})

    # the staffing window moves on a minute: every forecast; a local day on: every judgement too
    wall = LATER + MINUTE
    scrape({"forecasts": 3, "judgements": 0})
    scrape({"forecasts": 0, "judgements": 0})
    wall = LATER + DAY
    body = scrape({"forecasts": 0, "judgements": 6})  # no handled contact in a window a day on: nothing to forecast
    assert b"deskpulse_staffing_agents_needed{" not in body


def test_light_views_are_grouped_by_queue_even_when_ids_hold_a_slash():
    model = ReadModel(clock=FixedClock(WALL))
    day = {"days": {NOW - NOW % 86_400_000: {"resolved": 1}}}
    for scope, kw in [
        ("queue/zendesk/a/b", {"totals": {"created": 1}}),
        (light_scope("queue_agent", "zendesk", "a/b", "x"), day),
        (light_scope("queue_agent", "zendesk", "a/b", "y"), day),
        (light_scope("queue_category", "zendesk", "a/b", "billing"), day),
        (light_scope("queue_agent", "intercom", "c", "x"), day),
    ]:
        model.apply(*encoded(scope, 0, stream_ms=NOW, published_ms=WALL, **kw))
    light = [v for v in model.views() if v.kind in ("queue_agent", "queue_category")]
    cache = ScrapeCache()
    grouped = cache.light_groups(light)
    assert set(grouped) == {("zendesk", "a/b"), ("intercom", "c")}
    parts = grouped[("zendesk", "a/b")]
    assert set(parts.agents) == {"x", "y"} and set(parts.categories) == {"billing"}
    assert parts.agents["x"].scope == light_scope("queue_agent", "zendesk", "a/b", "x")
    assert grouped[("intercom", "c")].categories == {}
    assert cache.light_groups(list(light))[("zendesk", "a/b")] is parts  # the same views: the same Parts
