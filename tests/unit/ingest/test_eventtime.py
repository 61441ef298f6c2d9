"""Events from further in the future than the allowed skew: found, described, restamped (services/ingest/eventtime)."""

from services.common.events import to_epoch_ms
from services.ingest.eventtime import PLATFORM_TIME, beyond_skew, refusal, restamp
from tests.support.events import T0, ev

SKEW = 300_000


def test_an_event_exactly_at_the_skew_passes_and_a_millisecond_more_does_not():
    events = [ev("contact.created", 0, "a"), ev("contact.created", 300, "b"), ev("contact.created", 300.001, "c"),
              ev("contact.created", -86_400, "d")]
    assert beyond_skew(events, T0, SKEW) == [2]
    assert beyond_skew(events, T0 + 1, SKEW) == []


def test_sub_millisecond_and_offset_times_compare_by_their_instant():
    from services.common.events import parse_event
    from tests.support.events import doc

    # 00:05:00.0009 in UTC+02:00 is normalised to UTC milliseconds before it is compared
    ahead = parse_event({**doc("contact.created", 0), "occurred_at": "2026-11-17T22:18:20.0009+02:00"})
    limit_ms = to_epoch_ms(ahead.occurred_at)
    assert beyond_skew([ahead], limit_ms - SKEW, SKEW) == []
    assert beyond_skew([ahead], limit_ms - SKEW - 1, SKEW) == [0]


def test_refusal_names_the_field_how_far_ahead_and_the_setting():
    one = [ev("contact.created", 3_600)]
    assert refusal(one, 0, T0, SKEW) == (
        "occurred_at: 2026-11-18T12:06:40.000Z is 3,600 s ahead of the time it was received "
        "(2026-11-18T11:06:40.000Z); at most 300 s is allowed (DESKPULSE_MAX_CLOCK_SKEW_S)")
    many = [ev("contact.created", 0, "a"), ev("contact.created", 400, "b")]
    assert refusal(many, 1, T0, SKEW).startswith("event[1].occurred_at: ")


def test_restamp_moves_the_event_to_the_receipt_time_and_keeps_the_platforms_time():
    original = ev("contact.message", 86_400 * 365, author="agent", attributes={"tags": ["vip"]})
    stamped = restamp(original, T0)
    assert stamped.occurred_ms == T0 and stamped.occurred_at == "2026-11-18T11:06:40.000Z"
    assert stamped.attributes == {"tags": ["vip"], PLATFORM_TIME: original.occurred_at}
    assert stamped.model_dump(exclude={"occurred_at", "attributes"}) == original.model_dump(
        exclude={"occurred_at", "attributes"})
