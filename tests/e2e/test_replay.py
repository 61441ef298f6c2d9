"""End to end: the whole BPI Challenge 2013 log (71,606 canonical events) through ingest, Kafka, aggregator, API.

Sent with ``services/replay`` (``run_loop`` over a speed-0 schedule, ``send_to_ingest``: JSON arrays over
HTTP, in event-time order), then: no event lost (the aggregator counted every one, outcome applied or
duplicate), and every team's (queue scope) figures served by the API equal a batch recomputation
(``tests/support/recompute.py``) from the same events. The time the replay takes and the events/s reached are
printed (``-s`` shows them).

One documented engine rule is timing-dependent: a contact closed for 3 days of stream time is *retired* at
the aggregator's next sweep (once a wall-clock minute per partition), and events after that start no new
figures (docs/kpis.md, "Memory"). In this log 164 contacts are touched again (reopened, handed to another
team) more than 3 days after being closed; whether each was retired first depends on when the sweeps ran.
For the teams those contacts touch, the test requires every counter to lie between the two outcomes'
bounds, and exact equality if the aggregator logged no retirement. Every other team must match exactly.
"""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import quote

import httpx
import pytest

from services.commands.replay import run_loop
from services.replay import importer, resolve
from services.replay.schedule import make_schedule, order
from services.replay.targets import send_to_ingest
from tests.e2e.test_pipeline import api_figures, expected_body
from tests.support import recompute
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

BPI_EVENTS = 71_606
RETENTION_MS = 3 * 86_400_000  # EngineSettings.contact_retention_ms
MARGIN_MS = 600_000  # stream time also runs on with the wall clock between events: be generous
DONE = {"solved", "closed"}
ADDITIVE = ("created", "resolved", "reopened", "replies", "handled", "fr_count", "fr_ms", "nr_count", "nr_ms",
            "res_count", "res_ms", "one_touch", "answered", "abandoned", "short_abandoned", "sl_met", "sl_offered",
            "rated", "csat_good", "csat_bad", "open", "waiting")


def queue_bodies(docs: list[dict]) -> dict[str, dict]:
    """Per queue scope, the figures the API must serve (in ``api_figures`` form), from a recomputation."""
    counters, gauges = recompute.figures(docs), recompute.live(docs)
    scopes = {s for s in (*counters, *gauges) if s.startswith("queue/")}
    return {s: expected_body(counters.get(s, {}), gauges.get(s)) for s in scopes}


def retirement_options(docs: list[dict]) -> dict[tuple[str, str], list[dict[str, dict]]]:
    """Contacts whose queue figures depend on whether the aggregator retired them before a later event.

    For each, the queue bodies of every possible outcome: not retired (all events), or retired at a gap of
    more than the retention while closed (only the events before it count; later ones start no figures).
    """
    out = {}
    for key, evs in recompute._contacts(docs).items():
        status, cuts = None, []
        for i, e in enumerate(evs):
            if i and status in DONE and recompute.ms(e) - recompute.ms(evs[i - 1]) > RETENTION_MS - MARGIN_MS:
                cuts.append(i)
            if e["type"] in ("contact.created", "contact.status_changed"):
                status = e.get("status") or status or "new"
        if cuts:
            options = [queue_bodies(evs)] + [queue_bodies(evs[:i]) for i in cuts]
            if any(o != options[0] for o in options[1:]):
                out[key] = options
    return out


def aggregator_events(client: httpx.Client, port: int) -> dict[str, float]:
    text = client.get(f"http://127.0.0.1:{port}/metrics").text
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^deskpulse_aggregator_events_total\{outcome="(\w+)"\} (\S+)$', text, re.M)}


def fetch_queues(client: httpx.Client, api_url: str, scopes) -> dict[str, dict]:
    out = {}
    for scope in scopes:
        _, platform, queue = scope.split("/", 2)
        response = client.get(f"{api_url}/v1/queues/{quote(platform, safe='')}/{quote(queue, safe='')}")
        if response.status_code == 404:  # a team the API has never seen: no figures
            out[scope] = {}
        else:
            out[scope] = api_figures(response.json()) if response.status_code == 200 else {"status": response.status_code}
    return out


@pytest.fixture
def pipeline(kafka_bootstrap, unique_names, tmp_path):
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs")
    try:
        yield pipe
    finally:
        codes = pipe.stop()
        print(pipe.logs()[-2000:])
        assert all(code == 0 for code in codes.values()), f"unclean shutdown: {codes}"


def test_whole_bpi_log_through_the_pipeline_equals_a_recomputation(pipeline):
    kind, path = resolve("bpi2013")
    loading = time.monotonic()
    docs, times = order(importer(kind)(path))
    assert len(docs) == BPI_EVENTS
    expected = queue_bodies(docs)
    options = retirement_options(docs)
    prepared_s = time.monotonic() - loading
    # Per queue: the sound bounds of every counter over all outcomes of the ambiguous contacts.
    low = {s: dict(b) for s, b in expected.items()}
    high = {s: dict(b) for s, b in expected.items()}
    for outcomes in options.values():
        for scope in {s for o in outcomes for s in o}:
            for name in ADDITIVE:
                deltas = [o.get(scope, {}).get(name, 0) - outcomes[0].get(scope, {}).get(name, 0) for o in outcomes]
                low.setdefault(scope, {})[name] = low.get(scope, {}).get(name, 0) + min(deltas)
                high.setdefault(scope, {})[name] = high.get(scope, {}).get(name, 0) + max(deltas)
    ambiguous = {s for outcomes in options.values() for o in outcomes for s in o
                 if any(o.get(s) != other.get(s) for other in outcomes)}
    all_scopes = set(expected) | ambiguous

    pipeline.start()
    schedule = make_schedule(times, speed=0, rebase=False, now_ms=0)
    url = f"{pipeline.ingest_url}/webhooks/canonical"

    async def send_all() -> int:
        async with httpx.AsyncClient(timeout=60) as client:
            return await run_loop(docs, schedule, lambda batch: send_to_ingest(client, url, batch),
                                  batch=200, stop=asyncio.Event())

    started = time.monotonic()
    sent = asyncio.run(send_all())
    send_s = time.monotonic() - started
    assert sent == BPI_EVENTS
    print(f"\nBPI 2013 replay: {sent:,} events imported, ordered and recomputed in {prepared_s:.1f} s; sent "
          f"through ingest in {send_s:.1f} s ({sent / send_s:,.0f} events/s)")

    with httpx.Client(timeout=30) as client:
        counted, last_change, last_total = {}, time.monotonic(), -1.0
        while time.monotonic() - last_change < 30:  # until every event is counted, or nothing moves for 30 s
            counted = aggregator_events(client, pipeline.metrics_port)
            if sum(counted.values()) >= sent:
                break
            if sum(counted.values()) != last_total:
                last_total, last_change = sum(counted.values()), time.monotonic()
            time.sleep(0.5)
        aggregated_s = time.monotonic() - started
        print(f"aggregator counted {counted} after {aggregated_s:.1f} s ({sum(counted.values()) / aggregated_s:,.0f} "
              f"events/s)")
        assert counted.get("applied", 0) + counted.get("duplicate", 0) == sent, counted
        assert sum(counted.values()) == sent, counted  # nothing late, retired-late or invalid

        served, exact, bounded = {}, set(), set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the API serves the final figures
            summary = client.get(f"{pipeline.api_url}/v1/summary").json()
            if summary["contacts"]["created"] == 7_554:
                served = fetch_queues(client, pipeline.api_url, all_scopes)
                exact = {s for s in all_scopes if served[s] == expected.get(s, {})}
                bounded = {s for s in ambiguous - exact
                           if "status" not in served[s]
                           and all(low[s].get(n, 0) <= served[s].get(n, 0) <= high[s].get(n, 0) for n in ADDITIVE)}
                if (set(expected) - ambiguous) <= exact and ambiguous <= exact | bounded:
                    break
            time.sleep(1)
        final_s = time.monotonic() - started

    retirements = sum(int(n) for n in re.findall(r"retired (\d+) closed contacts",
                                                 (pipeline.log_dir / "aggregator.log").read_text()))
    print(f"API final after {final_s:.1f} s ({sent / final_s:,.0f} events/s end to end); {len(all_scopes)} teams, "
          f"{len(ambiguous)} touched by {len(options)} contacts reopened or moved after 3 closed days, "
          f"{len(ambiguous & exact)} of those exact; the aggregator retired {retirements} contacts")
    wrong = {s: (served.get(s), expected[s]) for s in set(expected) - ambiguous if served.get(s) != expected[s]}
    assert not wrong, f"{len(wrong)} teams differ, e.g. {next(iter(wrong.items()))}"
    if retirements == 0:
        assert ambiguous <= exact, f"no retirement happened, yet {sorted(ambiguous - exact)[:5]} differ"
    outside = sorted(ambiguous - exact - bounded)
    assert not outside, f"outside the retirement bounds: {[(s, served.get(s), low[s], high[s]) for s in outside[:3]]}"
