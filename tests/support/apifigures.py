"""The API's figures beside a batch recomputation (``recompute.py``), for end-to-end tests."""

from __future__ import annotations

import httpx

from services.domain.windows import window_start
from services.common.events import to_epoch_ms
from tests.support import recompute


def api_figures(body: dict) -> dict:
    """The API body's figures under the recomputation's counter names (zeros dropped)."""
    oldest = body["live"]["oldest_waiting_created_at"]
    out = {
        "created": body["contacts"]["created"],
        "resolved": body["contacts"]["resolved"],
        "reopened": body["contacts"]["reopened"],
        "replies": body["contacts"]["replies"],
        "handled": body["contacts"]["handled"],
        "fr_count": body["first_response"]["count"],
        "fr_ms": round(body["first_response"]["total_seconds"] * 1000),
        "nr_count": body["next_reply"]["count"],
        "nr_ms": round(body["next_reply"]["total_seconds"] * 1000),
        "res_count": body["resolution"]["count"],
        "res_ms": round(body["resolution"]["total_seconds"] * 1000),
        "one_touch": body["one_touch"]["count"],
        "answered": body["speed_of_answer"]["answered"],
        "abandoned": body["abandonment"]["abandoned"],
        "short_abandoned": body["abandonment"]["short_abandoned"],
        "sl_met": body["service_level"]["met"],
        "sl_offered": body["service_level"]["offered"],
        "rated": body["csat"]["rated"],
        "csat_good": body["csat"]["good"],
        "csat_bad": body["csat"]["bad"],
        "open": body["live"]["open"],
        "waiting": body["live"]["waiting"],
        "oldest_waiting_created_ms": to_epoch_ms(oldest) if oldest else None,
    }
    return {k: v for k, v in out.items() if v}


def expected_body(counters: dict, gauges: dict | None) -> dict:
    names = ("created", "resolved", "reopened", "replies", "handled", "fr_count", "fr_ms", "nr_count", "nr_ms",
             "res_count", "res_ms", "one_touch", "answered", "abandoned", "short_abandoned", "sl_met",
             "sl_offered", "rated", "csat_good", "csat_bad")
    out = {k: counters[k] for k in names if counters.get(k)}
    if gauges:
        out.update({k: gauges[k] for k in ("open", "waiting", "oldest_waiting_created_ms") if gauges.get(k)})
    return out


def assert_every_scope(client: httpx.Client, api_url: str, docs: list[dict]) -> None:
    """Every scope's body (window ``all`` and ``1h``) equals the recomputation of ``docs``."""
    expected = recompute.figures(docs)
    gauges = recompute.live(docs)
    for scope, figures in expected.items():
        kind, platform, key = (scope.split("/", 2) + [None, None])[:3]
        path = {"all": "summary", "platform": f"platforms/{platform}"}.get(kind, f"{kind}s/{platform}/{key}")
        body = client.get(f"{api_url}/v1/{path}").json()
        assert body["scope"] == scope
        assert api_figures(body) == expected_body(figures, gauges.get(scope)), scope
        # a trailing window, at the stream time the API answered for
        windowed = client.get(f"{api_url}/v1/{path}?window=1h").json()
        level, start = window_start("1h", to_epoch_ms(windowed["as_of"]))
        in_window = recompute.figures(docs, since_ms=start).get(scope, {})
        assert api_figures(windowed) == expected_body(in_window, gauges.get(scope)), (scope, "1h")

