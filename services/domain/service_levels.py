"""Service level under the vendor variants of KPIS.md §4.1: the settings of a queue and the (numerator,
denominator) one contact adds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AbandonRule = Literal["count_against", "count_in", "excluded", "excluded_within_threshold"]


class ServiceLevel(BaseModel):
    """Service-level settings of a queue (KPIS.md §4.1, §7.1).

    - ``threshold_seconds``: answered with a queue wait ``<=`` this is within service level.
    - ``abandons``: how contacts abandoned in queue count (short abandons aside):
      ``count_against`` (default; Genesys with "Include Abandons", Twilio, Freshcaller, Talkdesk): in the
      denominator only; ``count_in`` (Amazon Connect "SL X"): an abandon within the threshold counts as met, a
      later one as missed; ``excluded`` (Genesys without "Include Abandons"): not counted at all;
      ``excluded_within_threshold`` (WFM "ignored"): within the threshold not counted, later ones missed.
    - ``short_abandon_seconds``: abandons with a wait shorter than this are left out entirely (0 = off).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold_seconds: float = Field(20, gt=0, le=604_800)
    abandons: AbandonRule = "count_against"
    short_abandon_seconds: float = Field(0, ge=0, le=604_800)


def service_level_contribution(answered: bool, wait_ms: int, settings: ServiceLevel) -> tuple[int, int]:
    """(numerator, denominator) added by one contact that left the queue after ``wait_ms``.

    For incremental counters; ``service_level`` is the sum over a window.
    """
    within = wait_ms <= settings.threshold_seconds * 1000
    if answered:
        return (1 if within else 0), 1
    if wait_ms < settings.short_abandon_seconds * 1000:
        return 0, 0
    rule = settings.abandons
    if rule == "excluded" or (rule == "excluded_within_threshold" and within):
        return 0, 0
    if rule == "count_in" and within:
        return 1, 1
    return 0, 1


def service_level(
    answered_wait_ms: Iterable[int], abandoned_wait_ms: Iterable[int], settings: ServiceLevel
) -> tuple[int, int]:
    """(numerator, denominator) of service level; the ratio is ``ratio(n, d)`` (``None`` when d is 0)."""
    num = den = 0
    for answered, waits in ((True, answered_wait_ms), (False, abandoned_wait_ms)):
        for w in waits:
            n, d = service_level_contribution(answered, w, settings)
            num += n
            den += d
    return num, den


# Without a config: answered within 20 s, abandons count against, abandons under 5 s left out.
DEFAULT_SERVICE_LEVEL = ServiceLevel(threshold_seconds=20, abandons="count_against", short_abandon_seconds=5)
