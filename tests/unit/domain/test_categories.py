"""Issue categories from the definitions in docs/kpis.md ("Categories"): config, mapping, folding, engine."""

import random

import pytest
from hypothesis import given, settings, strategies as st

from services.domain.categories import NO_LABELS, ComplaintRule, step_labels
from services.aggregator.contacts import add_event, facts
from services.aggregator.engine import Engine
from services.aggregator.kpiconfig import SlaKpiConfig
from services.aggregator.kpis import contribution
from services.domain.scopes import describe_scope
from services.domain.slaconfig import SlaConfig, SlaConfigError
from services.domain.windows import MINUTE_MS, QUARTER_MS, window_start
from services.api.readmodel import ReadModel
from services.common.events import parse_event
from services.demo.synthetic import history
from tests.support import recompute
from tests.support.events import T0, ev

CONFIG = {"categories": [
    {"name": "billing", "match": [{"tag": ["Billing", "refund"]}, {"platform": "freshdesk", "type": "Refund"}]},
    {"name": "access", "match": [{"platform": "zendesk", "tag": "login"}, {"platform": "intercom", "tag": ["login", "bug"]}]},
    {"name": "complaint", "match": [{"tag": "complaint"}, {"topic": "complaints"}]},
    {"name": "acme-forms", "match": [{"account": "acme", "form": "6876543"}]},
], "service_levels": {"default": {"threshold_seconds": 20, "short_abandon_seconds": 5}}}  # as recompute assumes


def category_of(platform, account, **attributes):
    config = SlaConfig.load(CONFIG)
    record = add_event(None, ev("contact.created", 0, platform=platform, account=account, attributes=attributes), 0)
    return config.categories.category_of(platform, account, facts(record).labels)


# -- config ------------------------------------------------------------------------------------------------------


def test_categories_are_optional():
    config = SlaConfig.load({})
    assert config.categories is None and config.complaints == ComplaintRule()


def test_names_are_the_configured_categories_then_other():
    assert SlaConfig.load(CONFIG).categories.names == ("billing", "access", "complaint", "acme-forms", "other")


@pytest.mark.parametrize("data, path, message", [
    ({"categories": [{"name": "other", "match": [{"tag": "x"}]}]}, "categories[0].name", "implicit"),
    ({"categories": [{"name": "Billing", "match": [{"tag": "x"}]}]}, "categories[0].name", "invalid category name"),
    ({"categories": [{"name": "a", "match": [{"platform": "zendesk"}]}]}, "categories[0].match[0]", "at least one of"),
    ({"categories": [{"name": "a", "match": []}]}, "categories[0].match", "at least 1"),
    ({"categories": [{"name": "a", "match": [{"tags": "x"}]}]}, "categories[0].match[0].tags", "unknown key"),
    ({"categories": [{"name": "a", "match": [{"tag": "x"}]}, {"name": "a", "match": [{"tag": "y"}]}]},
     "categories[1].name", "duplicate category 'a'"),
    ({"categories": [{"name": f"c{i}", "match": [{"tag": "x"}]} for i in range(51)]}, "categories", "at most 50"),
    ({"categories": [{"name": "a", "match": [{"tag": "x"}]}], "complaints": {"categories": ["b"]}},
     "complaints.categories[0]", "unknown category 'b'"),
    ({"complaints": {"bad_rating_at_most": 1.5}}, "complaints.bad_rating_at_most", "less than 1"),
])
def test_invalid_category_configs_name_the_key(data, path, message):
    with pytest.raises(SlaConfigError) as raised:
        SlaConfig.load(data)
    assert any(p == path and message in m for p, m in raised.value.problems), raised.value.problems


# -- mapping -----------------------------------------------------------------------------------------------------


def test_first_category_with_a_matching_rule_wins_case_insensitively():
    assert category_of("zendesk", None, tags=["BILLING", "complaint"]) == "billing"  # billing is listed first
    assert category_of("zendesk", None, tags=["complaint"]) == "complaint"
    assert category_of("intercom", None, topics=[{"type": "topic", "name": "Complaints"}]) == "complaint"


def test_platform_and_account_conditions_must_hold_too():
    assert category_of("zendesk", None, tags=["login"]) == "access"
    assert category_of("intercom", None, tags=["bug"]) == "access"
    assert category_of("zendesk", None, tags=["bug"]) == "other"  # bug only counts on intercom
    assert category_of("freshdesk", None, ticket_type="refund") == "billing"
    assert category_of("zendesk", None, ticket_type="refund") == "other"
    assert category_of("zendesk", "acme", form="6876543") == "acme-forms"
    assert category_of("zendesk", "globex", form="6876543") == "other"


def test_contacts_without_attributes_are_other():
    assert category_of("twilio", None) == "other"
    assert category_of("zendesk", None, tags=[]) == "other"


def test_labels_keep_only_the_category_keys_normalised():
    assert step_labels({"raw_status": "x"}) is None
    assert step_labels({"tags": ["B", "a", "a", ""], "ticket_type": " Question ", "form": 6876543}) == \
        [["a", "b"], "question", "6876543", None, None]
    assert step_labels({"topics": "Billing", "category": True}) == [None, None, None, ["billing"], None]


def test_latest_value_per_key_wins_in_event_time_whatever_the_arrival_order():
    created = ev("contact.created", 0, attributes={"tags": ["billing"], "ticket_type": "question"})
    solved = ev("contact.status_changed", 600, status="solved", attributes={"tags": ["login"]})
    late_note = ev("contact.message", 300, author="agent", public=False)  # no attributes: changes nothing
    for order in ([created, late_note, solved], [solved, created, late_note], [late_note, solved, created]):
        record = None
        for event in order:
            record = add_event(record, event, 0)
        assert facts(record).labels == (("login",), "question", None, None, None)


def test_a_contact_moves_with_its_category_like_a_queue_transfer():
    config = SlaKpiConfig(SlaConfig.load(CONFIG))
    record = add_event(None, ev("contact.created", 0, queue_id="q", status="new", attributes={"tags": ["refund"]}), 0)
    assert "category/billing" in contribution(facts(record), config).all_totals()
    record = add_event(record, ev("contact.status_changed", 60, status="solved", attributes={"tags": ["complaint"]}), 0)
    totals = contribution(facts(record), config).all_totals()
    assert "category/billing" not in totals and totals["category/complaint"]["created"] == 1


def test_no_category_scopes_without_config():
    record = add_event(None, ev("contact.created", 0, queue_id="q", status="new", attributes={"tags": ["refund"]}), 0)
    from services.aggregator.kpiconfig import DefaultConfig
    assert not any(s.startswith("category/") for s in contribution(facts(record), DefaultConfig()).all_totals())
    assert facts(add_event(None, ev("contact.created", 0), 0)).labels == NO_LABELS


def test_category_scope_ids():
    assert describe_scope("category/billing") == {"kind": "category", "platform": None, "id": "billing"}


# -- engine against the batch recomputation ------------------------------------------------------------------------


def tagged(seed, contacts=40):
    """Synthetic traffic (which tags contacts, re-tagging some when solved) plus Intercom topics on some."""
    docs = history(random.Random(seed), T0, contacts, mean_gap_ms=20_000)
    rng = random.Random(seed + 1)
    for d in docs:
        if d["type"] == "contact.created" and d["platform"] == "intercom" and rng.random() < 0.3:
            d["attributes"] = {**d.get("attributes", {}), "topics": [{"name": "Complaints"}]}
    return docs


def run(docs, config_data, partitions=3):
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(config_data)))
    last = max(recompute.ms(d) for d in docs)
    for d in docs:
        event = parse_event(d)
        engine.handle(hash(event.kafka_key) % partitions, event, last)
    model = ReadModel()
    for key, value in engine.drain(last):
        model.apply(key, value)
    return model, last


def without_bins(counters):
    return {k: v for k, v in counters.items() if "h:" not in k and "le:" not in k}


def assert_categories_match(model, docs, now, config_data):
    expected = {s: c for s, c in recompute.figures(docs, config=config_data).items() if s.startswith("category/")}
    assert expected, "the sample should have categorised contacts"
    assert {v.scope for v in model.views() if v.kind == "category"} == set(expected)
    for scope, counters in expected.items():
        view = model.view(scope, wall_ms=now)
        assert without_bins(view.totals) == counters, scope
        for window in ("15m", "24h"):
            level, start = window_start(window, now)
            want = recompute.figures(docs, since_ms=start, size_ms=MINUTE_MS if level == "m" else QUARTER_MS,
                                     config=config_data)
            assert without_bins(view.counters(window, now)) == want.get(scope, {}), (scope, window)
    live = recompute.live(docs, config=config_data)
    for scope in expected:
        assert (model.view(scope, wall_ms=now).live.get("open") or 0) == live.get(scope, {}).get("open", 0), scope


def test_category_scopes_match_the_batch_recomputation():
    docs = tagged(3, contacts=120)
    model, now = run(docs, CONFIG)
    assert_categories_match(model, docs, now, CONFIG)
    # every contact is in exactly one category: the categories add up to the whole
    created = sum(model.view(s).totals.get("created", 0) for s in model.scopes("category"))
    assert created == model.view("all").totals["created"]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000))
def test_category_figures_do_not_depend_on_arrival_order_or_duplicates(seed, shuffle_seed):
    docs = tagged(seed, contacts=20)
    rng = random.Random(shuffle_seed)
    delivered = docs + [d for d in docs if rng.random() < 0.2]
    rng.shuffle(delivered)
    model, now = run(delivered, CONFIG)
    assert_categories_match(model, docs, now, CONFIG)
