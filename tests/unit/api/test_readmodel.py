import json

from services.api.readmodel import ReadModel, merge


def partial(scope, partition, created=0, open_=0, waiting=0, oldest=None, published=1):
    kind = scope.split("/")[0]
    return {
        "schema": "deskpulse.snapshot.v1", "scope": scope, "kind": kind, "platform": "zendesk", "id": "q",
        "partition": partition, "published_ms": published,
        "windows": {"all": {"created": created, "first_responses": 1, "first_response_ms_sum": 500,
                            "resolved": 0, "reopened": 0}},
        "live": {"open": open_, "waiting": waiting, "oldest_waiting_created_ms": oldest},
    }


def test_merge_adds_counters_and_takes_the_oldest_waiting():
    view = merge([partial("queue/zendesk/q", 0, created=2, open_=1, waiting=1, oldest=500, published=9),
                  partial("queue/zendesk/q", 1, created=3, open_=2, waiting=2, oldest=300, published=4),
                  partial("queue/zendesk/q", 2, created=1, oldest=None)])
    assert view.windows["all"]["created"] == 6
    assert view.windows["all"]["first_response_ms_sum"] == 1500
    assert (view.open, view.waiting, view.oldest_waiting_created_ms, view.published_ms) == (3, 3, 300, 9)


def test_later_partial_replaces_earlier_one_for_the_same_partition():
    model = ReadModel()
    model.apply(b"all#0", json.dumps(partial("all", 0, created=1)).encode())
    model.apply(b"all#0", json.dumps(partial("all", 0, created=5)).encode())
    model.apply(b"all#1", json.dumps(partial("all", 1, created=2)).encode())
    assert model.view("all").windows["all"]["created"] == 7


def test_tombstone_removes_a_partial_and_bad_records_are_skipped():
    model = ReadModel()
    model.apply(b"all#0", json.dumps(partial("all", 0, created=1)).encode())
    model.apply(b"all#1", json.dumps(partial("all", 1, created=2)).encode())
    model.apply(b"all#1", None)
    model.apply(b"no-partition", b"{}")
    model.apply(b"all#2", b"not json")
    model.apply(None, b"{}")
    assert model.view("all").windows["all"]["created"] == 1
    assert model.scope_count == 1


def test_scopes_lists_by_kind():
    model = ReadModel()
    for key in ("queue/zendesk/a", "queue/intercom/b", "agent/zendesk/x"):
        model.apply(f"{key}#0".encode(), json.dumps(partial(key, 0)).encode())
    assert model.scopes("queue") == ["queue/intercom/b", "queue/zendesk/a"]
