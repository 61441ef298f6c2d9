"""Scope ids (services/domain/scopes.py): built and parsed back, ids holding '/' included."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain.scopes import describe_scope, is_light, light_scope, parse_light_scope, scope_id

platforms = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=15)
# anything an id can be: slashes, percent signs, spaces, non-ASCII
ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@pytest.mark.parametrize("args, scope, described", [
    (("all",), "all", {"kind": "all", "platform": None, "id": None}),
    (("platform", "zendesk"), "platform/zendesk", {"kind": "platform", "platform": "zendesk", "id": None}),
    (("category", None, "billing"), "category/billing", {"kind": "category", "platform": None, "id": "billing"}),
    (("queue", "zendesk", "360001"), "queue/zendesk/360001",
     {"kind": "queue", "platform": "zendesk", "id": "360001"}),
    (("account", "zendesk", "acme/eu"), "account/zendesk/acme/eu",
     {"kind": "account", "platform": "zendesk", "id": "acme/eu"}),
    (("agent", "genesys", "a/b/c"), "agent/genesys/a/b/c", {"kind": "agent", "platform": "genesys", "id": "a/b/c"}),
])
def test_scope_ids_and_their_labels(args, scope, described):
    assert scope_id(*args) == scope
    assert describe_scope(scope) == described


@given(kind=st.sampled_from(["queue", "account", "agent"]), platform=platforms, key=ids)
def test_describe_scope_gives_back_what_scope_id_was_given(kind, platform, key):
    assert describe_scope(scope_id(kind, platform, key)) == {"kind": kind, "platform": platform, "id": key}


@given(key=ids)
def test_a_category_id_may_hold_slashes(key):
    assert describe_scope(scope_id("category", key=key)) == {"kind": "category", "platform": None, "id": key}


@given(kind=st.sampled_from(["queue_agent", "queue_category"]), platform=platforms, queue=ids, key=ids)
def test_light_scopes_parse_back_whatever_their_ids_hold(kind, platform, queue, key):
    scope = light_scope(kind, platform, queue, key)
    assert parse_light_scope(scope) == (kind, platform, queue, key)
    assert is_light(scope)
    assert scope.count("/") == 3  # the ids are encoded: a slash in them cannot shift the parts
    labels = describe_scope(scope)
    assert (labels["kind"], labels["platform"]) == (kind, platform)


def test_a_queue_named_like_a_prefix_of_another_is_not_mixed_up_with_it():
    """A queue "a" and a queue "a/b": the light scopes of "a" are exactly those starting "queue_agent/z/a/"."""
    of_a = light_scope("queue_agent", "z", "a", "x")
    of_a_b = light_scope("queue_agent", "z", "a/b", "x")
    assert of_a.startswith("queue_agent/z/a/") and not of_a_b.startswith("queue_agent/z/a/")
    assert parse_light_scope(of_a_b) == ("queue_agent", "z", "a/b", "x")


def test_only_the_queue_by_agent_and_queue_by_category_kinds_are_light():
    assert is_light("queue_agent/z/q/a") and is_light("queue_category/z/q/billing")
    for scope in ("all", "platform/z", "queue/z/q", "agent/z/a", "account/z/acme", "category/billing",
                  "queue/z/queue_agent"):
        assert not is_light(scope), scope
