"""A straightforward batch recomputation of deskpulse's figures from canonical event documents.

Written independently of ``services.aggregator`` (no imports from it), from the definitions in ARCHITECTURE.md
and docs/kpis.md, so tests can compare the streaming result with it. ``facts(docs)`` lists every counted fact
as (time, scope, counters); ``figures(docs, window=...)`` sums them per scope, ``live(docs)`` gives the
gauges now.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from urllib.parse import quote

TYPE_ORDER = ["contact.created", "contact.queued", "contact.assigned", "contact.connected", "contact.message",
              "contact.status_changed", "contact.abandoned", "contact.rated"]
DONE = {"solved", "closed"}
OPEN = {"new", "open", "pending", "on_hold"}
LIVE = {"voice", "chat", "messaging", "sms"}
SL_THRESHOLD_MS, SHORT_ABANDON_MS = 20_000, 5_000  # DefaultConfig
MINUTE, QUARTER = 60_000, 900_000


def ms(doc: dict) -> int:
    moment = datetime.fromisoformat(doc["occurred_at"].replace("Z", "+00:00"))
    return round(moment.timestamp() * 1000)


def _contacts(docs: list[dict]) -> dict[tuple[str, str], list[dict]]:
    unique = {}
    for doc in docs:
        unique.setdefault(doc["event_id"], doc)
    contacts = defaultdict(list)
    for doc in unique.values():
        if doc["type"].startswith("contact."):
            contacts[(doc["platform"], doc["contact_id"])].append(doc)
    for evs in contacts.values():
        evs.sort(key=lambda d: (ms(d), TYPE_ORDER.index(d["type"]), d["event_id"]))
    return contacts


def _norm(value) -> str:
    return str(value.get("name") if isinstance(value, dict) else value).strip().casefold()


def category(platform: str, account: str | None, evs: list[dict], config: dict | None) -> str | None:
    """The contact's category under the ``categories:`` section of an SLA config (a plain dict), read from
    docs/kpis.md: the latest value of each attribute in event time, then the first category (in order) with a
    rule whose every condition holds; ``other`` if none; ``None`` without categories."""
    categories = (config or {}).get("categories")
    if not categories:
        return None
    said: dict[str, object] = {}
    for d in evs:
        attributes = d.get("attributes") or {}
        for key in ("tags", "topics"):
            if isinstance(attributes.get(key), list):
                names = [v.get("name") if isinstance(v, dict) else v for v in attributes[key]]
                said[key] = {_norm(v) for v in names if isinstance(v, (str, int)) and str(v).strip()}
        for key in ("ticket_type", "form", "category"):
            if attributes.get(key) not in (None, "") and _norm(attributes[key]):
                said[key] = _norm(attributes[key])
    as_list = lambda v: [v] if isinstance(v, str) else list(v)  # noqa: E731
    for cat in categories:
        for rule in cat["match"]:
            ok = True
            for key, value in rule.items():
                wanted = {_norm(v) for v in as_list(value)}
                if key == "platform":
                    ok &= platform in as_list(value)
                elif key == "account":
                    ok &= account in as_list(value)
                elif key in ("tag", "topic"):
                    ok &= bool(wanted & set(said.get(key + "s", ())))  # type: ignore[arg-type]
                else:
                    ok &= said.get({"type": "ticket_type"}.get(key, key)) in wanted
            if ok:
                return cat["name"]
    return "other"


def _walk(platform: str, evs: list[dict], config: dict | None = None):
    """Yield (time, [scopes], {counter: value}) facts of one contact, and return its final state."""
    creations = [d for d in evs if d["type"] == "contact.created"]
    if not creations:
        return [], None
    c0 = creations[0]
    t0 = ms(c0)
    last = lambda key: next((d[key] for d in reversed(evs) if d.get(key)), None)  # noqa: E731
    queue, account, channel = last("queue_id"), last("account"), last("channel")
    scopes = ["all", f"platform/{platform}"]
    if account:
        scopes.append(f"account/{platform}/{account}")
    if queue:
        scopes.append(f"queue/{platform}/{queue}")
    cat = category(platform, account, evs, config)
    if cat is not None:
        scopes.append(f"category/{cat}")
    agent = lambda a: [f"agent/{platform}/{a}"] if a else []  # noqa: E731

    out = [(t0, scopes, {"created": 1})]
    status = c0.get("status") or "new"
    assignee = None
    first_resp = resolved_at = resolver = abandoned_at = connected_at = connected_agent = ended_at = None
    queued_at = t0 if channel in LIVE else None
    explicit_queue = [ms(d) for d in evs if d["type"] == "contact.queued"]
    unanswered = None
    agent_replies = 0
    reopens = []
    last_solved = t0 if status in DONE else None
    rating = None
    if status in DONE:
        resolved_at, resolver = t0, c0.get("agent_id")
    for d in evs:
        t, kind = ms(d), d["type"]
        if kind == "contact.queued" and connected_at is None and (queued_at is None or t == explicit_queue[0]):
            queued_at = t
        elif kind == "contact.assigned":
            assignee = d.get("agent_id")
        elif kind == "contact.connected":
            if connected_at is None and abandoned_at is None:
                connected_at, connected_agent = t, d.get("agent_id")
                if t > t0 and first_resp is None:
                    first_resp = t
                    out.append((t, scopes + agent(d.get("agent_id")), {"fr_count": 1, "fr_ms": t - t0}))
            if d.get("agent_id") and assignee is None:
                assignee = d["agent_id"]
        elif kind == "contact.message" and d.get("public") is True:
            if d.get("author") == "customer":
                if first_resp is not None and unanswered is None:
                    unanswered = t
            elif d.get("author") == "agent" and t > t0:
                agent_replies += 1
                out.append((t, scopes + agent(d.get("agent_id")), {"replies": 1}))
                if first_resp is None and abandoned_at is None:
                    first_resp = t
                    out.append((t, scopes + agent(d.get("agent_id")), {"fr_count": 1, "fr_ms": t - t0}))
                elif unanswered is not None:
                    out.append((t, scopes + agent(d.get("agent_id")), {"nr_count": 1, "nr_ms": t - unanswered}))
                unanswered = None
        elif kind == "contact.status_changed":
            new = d["status"]
            if status in DONE and new in OPEN:
                reopens.append(t)
            if new in DONE:
                if resolved_at is None:
                    resolved_at, resolver = t, assignee
                if status not in DONE:
                    last_solved = t
                if connected_at is not None and ended_at is None:
                    ended_at = t
            if new in OPEN:
                last_solved = None
            status = new
        elif kind == "contact.abandoned":
            if connected_at is None and first_resp is None and abandoned_at is None:
                abandoned_at = t
        elif kind == "contact.rated":
            rating = (t, d["rating"], assignee)
    if resolved_at is not None:
        figures = {"resolved": 1, "res_count": 1, "res_ms": resolved_at - t0}
        if agent_replies == 1 and not reopens:
            figures["one_touch"] = 1
        out.append((resolved_at, scopes + agent(resolver), figures))
    if last_solved is not None and status in DONE:
        out.append((last_solved, scopes, {"full_res_count": 1, "full_res_ms": last_solved - t0}))
    for t in reopens:
        out.append((t, scopes + agent(resolver), {"reopened": 1}))
    if queued_at is not None:
        if connected_at is not None:
            wait = max(0, connected_at - queued_at)
            out.append((connected_at, scopes + agent(connected_agent),
                        {"answered": 1, "asa_ms": wait, "sl_offered": 1, "sl_met": int(wait <= SL_THRESHOLD_MS)}))
        elif abandoned_at is not None:
            wait = max(0, abandoned_at - queued_at)
            if wait < SHORT_ABANDON_MS:
                out.append((abandoned_at, scopes, {"short_abandoned": 1}))
            else:
                out.append((abandoned_at, scopes, {"abandoned": 1, "abandon_wait_ms": wait, "sl_offered": 1}))
    if connected_at is not None and ended_at is not None:
        out.append((ended_at, scopes + agent(connected_agent), {"handled": 1, "handle_ms": ended_at - connected_at}))
    complaints = (config or {}).get("complaints") or {}
    complaint_category = cat is not None and cat in complaints.get("categories", [])
    if complaint_category:  # at creation, for the agent assigned at resolution (else now)
        out.append((t0, scopes + agent(resolver if resolved_at is not None else assignee), {"complaints": 1}))
    if rating is not None:
        t, r, rated_agent = rating
        figures = {"rated": 1, f"csat_{r['label']}": 1}
        if r.get("score") is not None and r.get("scale_max") == 10:
            s = r["score"]
            figures["nps_" + ("promoter" if s >= 9 else "detractor" if s <= 6 else "passive")] = 1
        at_most = complaints.get("bad_rating_at_most")
        if at_most is not None and r.get("score") is not None and r.get("scale_max"):
            bad = r["score"] / r["scale_max"] <= at_most
        else:
            bad = r["label"] == "bad"
        if bad and not complaint_category:
            figures["complaints"] = 1
        out.append((t, scopes + agent(rated_agent), figures))

    out = [_light_and_channels(platform, queue, cat, channel, fact) for fact in out]
    is_open = abandoned_at is None and status in OPEN
    state = {
        "scopes": scopes, "agent": agent(assignee), "open": is_open,
        "waiting": is_open and first_resp is None, "unassigned": is_open and assignee is None,
        "pending": is_open and status == "pending", "on_hold": is_open and status == "on_hold",
        "in_queue": is_open and queued_at is not None and connected_at is None,
        "created": t0, "queued_at": queued_at,
    }
    return out, state


WORKLOAD = ("replies", "answered", "handled", "resolved")  # split per channel on agent scopes
LIGHT = ("queue_agent/", "queue_category/", "queue_agent_category/")  # day buckets only


def _light_and_channels(platform, queue, cat, channel, fact):
    """A fact attributed to an agent also counts for the agent within the queue (and within the queue and the
    contact's category), and its workload counters per channel (agent scopes only); every fact of a queue also
    counts for the queue x category."""
    t, scopes, counters = fact
    scopes = list(scopes)
    agents = [s.split("/", 2)[2] for s in scopes if s.startswith("agent/")]
    if queue and cat is not None:
        scopes.append(f"queue_category/{platform}/{quote(queue, safe='')}/{quote(cat, safe='')}")
    if agents:
        counters = {**counters, **{f"{k}@{channel or 'unknown'}": v for k, v in counters.items() if k in WORKLOAD}}
        if queue:
            scopes += [f"queue_agent/{platform}/{quote(queue, safe='')}/{quote(a, safe='')}" for a in agents]
            if cat is not None:  # and the agent within the queue and the contact's category
                scopes += [f"queue_agent_category/{platform}/{quote(queue, safe='')}/{quote(a, safe='')}/"
                           f"{quote(cat, safe='')}" for a in agents]
    return t, scopes, counters


def counted_in(scope: str, counters: dict) -> dict:
    """Per-channel counters count on agent scopes only."""
    return counters if scope.startswith("agent/") else {k: v for k, v in counters.items() if "@" not in k}


def facts(docs: list[dict], config: dict | None = None) -> list[tuple[int, str, dict]]:
    out = []
    for (platform, _), evs in _contacts(docs).items():
        contact_facts, _ = _walk(platform, evs, config)
        for t, scopes, figures in contact_facts:
            for scope in scopes:
                out.append((t, scope, figures))
    return out


def figures(docs: list[dict], since_ms: int | None = None, size_ms: int = MINUTE,
            config: dict | None = None) -> dict[str, dict[str, int]]:
    """Counters per scope; with ``since_ms``, only facts whose ``size_ms`` bucket starts at or after it."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for t, scope, counted in facts(docs, config):
        if since_ms is not None and t - t % size_ms < since_ms or scope.startswith(LIGHT):
            continue
        target = out[scope]
        for name, value in counted_in(scope, counted).items():
            target[name] = target.get(name, 0) + value
    return {scope: {k: v for k, v in c.items() if v} for scope, c in out.items()}


def live(docs: list[dict], config: dict | None = None) -> dict[str, dict]:
    """Gauges now per scope: open, waiting, unassigned, pending, on_hold, in_queue, oldest times."""
    out: dict[str, dict] = defaultdict(lambda: {"open": 0, "waiting": 0, "unassigned": 0, "pending": 0,
                                                "on_hold": 0, "in_queue": 0, "oldest_waiting_created_ms": None,
                                                "oldest_queued_ms": None})
    for (platform, _), evs in _contacts(docs).items():
        _, state = _walk(platform, evs, config)
        if state is None or not state["open"]:
            continue
        for scope in state["scopes"]:
            g = out[scope]
            for name in ("open", "waiting", "unassigned", "pending", "on_hold", "in_queue"):
                g[name] += int(state[name])
            if state["waiting"] and (g["oldest_waiting_created_ms"] is None or state["created"] < g["oldest_waiting_created_ms"]):
                g["oldest_waiting_created_ms"] = state["created"]
            if state["in_queue"] and (g["oldest_queued_ms"] is None or state["queued_at"] < g["oldest_queued_ms"]):
                g["oldest_queued_ms"] = state["queued_at"]
        for scope in state["agent"]:
            out[scope]["open"] += 1
    return dict(out)


# Counters kept per local day (docs/kpis.md, "Per day and per week"); an agent's per-channel counters
# (``replies@email``) too.
DAY_COUNTERS = {"created", "resolved", "reopened", "one_touch", "replies", "answered", "handled", "rated", "csat_good",
                "csat_bad", "complaints", "fr_count", "fr_ms", "nr_count", "nr_ms"}


def local_day_start(t_ms: int, tz: str = "UTC", reset: str = "00:00") -> int:
    """Start (epoch ms) of the local day holding ``t_ms`` for a daily reset at local ``reset`` in ``tz``."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    hour, minute = map(int, reset.split(":"))
    local = datetime.fromtimestamp(t_ms / 1000, zone)
    start = datetime(local.year, local.month, local.day, hour, minute, tzinfo=zone)
    if start.timestamp() * 1000 > t_ms:
        day = local.date() - timedelta(days=1)
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    return round(start.timestamp() * 1000)


def day_of(scope: str, config: dict | None) -> tuple[str, str]:
    """(time zone, reset) of a scope's days: the queue's ``days:`` for queue scopes, else the default, else UTC."""
    days = (config or {}).get("days") or {}
    default = days.get("default") or {}
    chosen = default
    if scope.startswith(("queue/", "queue_agent/", "queue_category/")):
        queue = scope.split("/", 2)[2] if scope.startswith("queue/") else None
        chosen = (days.get("queues") or {}).get(queue, default) if queue else default
    return chosen.get("timezone", "UTC"), chosen.get("reset", "00:00")


def days(docs: list[dict], config: dict | None = None, since_ms: int | None = None) -> dict[str, dict[int, dict]]:
    """Counters per scope per local day start; with ``since_ms``, only days starting at or after it."""
    out: dict[str, dict[int, dict[str, int]]] = defaultdict(dict)
    for t, scope, counted in facts(docs, config):
        kept = {k: v for k, v in counted_in(scope, counted).items() if k.partition("@")[0] in DAY_COUNTERS}
        if not kept:
            continue
        start = local_day_start(t, *day_of(scope, config))
        if since_ms is not None and start < since_ms:
            continue
        target = out[scope].setdefault(start, {})
        for name, value in kept.items():
            target[name] = target.get(name, 0) + value
    return {scope: {d: {k: v for k, v in c.items() if v} for d, c in by_day.items()} for scope, by_day in out.items()}
