"""A small floor with a token of every role, and what each token should see, written independently of reach.py.

Three platforms of synthetic history (services/demo/synthetic.py) plus one queue with an id holding ``/`` and a
space (``zendesk/escalations/tier 2``, account ``acme``) worked only by ``zendesk/lead/1``: an agent outside the
billing team, and a queue and an agent whose ids need quoting in light scopes.
"""

from __future__ import annotations

import random
from functools import cache
from urllib.parse import unquote

from services.aggregator.engine import Engine, EngineSettings
from services.aggregator.kpiconfig import SlaKpiConfig
from services.api.contactstore import ContactStore
from services.api.readmodel import ReadModel
from services.api.tokens import hash_token
from services.common.clock import FixedClock
from services.common.events import parse_event
from services.demo.synthetic import agent_shifts, history
from services.domain.scopes import parse_light_scope
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DAY_MS
from tests.support import recompute

T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z
CONFIG = {
    "goals": {"global": {"csat": ">= 0.80", "complaint_rate": "<= 0.25"}},
    "categories": [{"name": "billing", "match": [{"tag": ["billing", "refund", "invoice"]}]},
                   {"name": "access", "match": [{"tag": ["login", "password"]}]}],
}
ESCALATIONS = "escalations/tier 2"
LEAD = "lead/1"
ME = "ze-agent-01"

# name -> (token, entry of the tokens file without name and sha256); the flat and the expired ones are extra
GRANTS = {
    "director": ("tok-director", {"role": "director"}),
    "team manager": ("tok-team", {"role": "manager", "teams": ["zendesk/billing"]}),
    "platform manager": ("tok-platform", {"role": "manager", "platforms": ["intercom"], "accounts": ["zendesk/acme"]}),
    "agent": ("tok-agent", {"role": "agent", "agent": f"zendesk/{ME}"}),
    "lead": ("tok-lead", {"role": "agent", "agent": f"zendesk/{LEAD}"}),
    "metrics": ("tok-metrics", {"role": "metrics"}),
    "expired": ("tok-expired", {"role": "director", "expires": "2026-11-01"}),
}
FLAT = "tok-flat"  # DESKPULSE_API_TOKENS: a director
LIGHT = ("queue_agent", "queue_category", "queue_agent_category")


def tokens_file(path) -> str:
    import yaml

    entries = [{"name": name, "sha256": hash_token(token), **extra} for name, (token, extra) in GRANTS.items()]
    path.write_text(yaml.safe_dump({"tokens": entries}))
    return str(path)


def _escalations(docs: list[dict]) -> list[dict]:
    """Zendesk contacts copied into the escalations queue of account acme, every agent's part played by the lead."""
    out = []
    for doc in docs:
        if doc["platform"] != "zendesk":
            continue
        copy = {**doc, "event_id": "x-" + doc["event_id"], "account": "acme"}
        if "contact_id" in copy:
            copy["contact_id"] = "x" + copy["contact_id"]
        if "queue_id" in copy:
            copy["queue_id"] = ESCALATIONS
        if "agent_id" in copy:
            if "contact_id" not in copy:
                continue  # presence of the zendesk agents stays theirs
            copy["agent_id"] = LEAD
        out.append(copy)
    return out


@cache
def _built() -> tuple[list[dict], ReadModel, ContactStore]:
    rng = random.Random(7)
    docs = history(rng, T0, contacts=240, mean_gap_ms=9 * DAY_MS // 240)
    docs += agent_shifts(rng, T0 + 9 * DAY_MS - 3_600_000, T0 + 9 * DAY_MS)
    docs += _escalations(docs[: len(docs) // 4])
    docs.sort(key=lambda d: d["occurred_at"])  # in time order, as the pipeline would see them within its grace
    # nine days of history: contacts are kept (not retired) for all of it, so the store holds every contact
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(CONFIG)), settings=EngineSettings(contact_retention_ms=30 * DAY_MS))
    last = max(parse_event(d).occurred_ms for d in docs)
    for d in docs:
        e = parse_event(d)
        engine.handle(hash(e.contact_id or e.agent_id) % 3, e, e.occurred_ms)
    model = ReadModel(clock=FixedClock(last))
    for key, value in engine.drain(last):
        model.apply(key, value)
    model.caught_up = True
    store = ContactStore()
    while rows := engine.drain_contacts():
        for key, value in rows:
            store.apply(key, value)
    return docs, model, store


def floor() -> tuple[list[dict], ReadModel]:
    docs, model, _ = _built()
    return docs, model


def contacts() -> ContactStore:
    """The contact rows of the floor, as the API's store holds them."""
    return _built()[2]


@cache
def worked() -> frozenset[tuple[str, str, str]]:
    """(platform, queue, agent) of everyone who worked in a queue, from the batch recomputation."""
    docs, _ = floor()
    return frozenset(parse_light_scope(s)[1:] for s in recompute.days(docs, CONFIG) if s.startswith("queue_agent/"))


def expected(who: str, scope: str, people: bool = False) -> bool:
    """Whether token ``who`` may read ``scope`` (docs/api.md, Roles), from the scope id and who worked where;
    ``people``: a body naming the scope's agents."""
    kind, _, rest = scope.partition("/")
    platform, _, key = rest.partition("/")
    if who in ("director", "flat"):
        return True
    if who == "team manager":
        if kind == "queue":
            return rest == "zendesk/billing"
        if kind == "agent":
            return platform == "zendesk" and ("zendesk", "billing", key) in worked()
        return kind in LIGHT and scope.startswith(f"{kind}/zendesk/billing/")
    if who == "platform manager":
        return (kind not in ("all", "category") and platform == "intercom") or scope == "account/zendesk/acme"
    if who in ("agent", "lead"):
        me = ME if who == "agent" else LEAD
        teams = {q for p, q, a in worked() if p == "zendesk" and a == me}
        parts = [unquote(part) for part in key.split("/")]
        if kind == "agent":
            return rest == f"zendesk/{me}"
        if kind == "queue":
            return not people and platform == "zendesk" and key in teams
        if kind == "queue_category":
            return not people and platform == "zendesk" and parts[0] in teams
        if kind in ("queue_agent", "queue_agent_category"):
            return platform == "zendesk" and parts[0] in teams and parts[1] == me
    return False  # metrics, expired, unknown
