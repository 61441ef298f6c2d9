"""Staffing forecast: the Erlang C model (KPIS.md §9), pure, no I/O.

Given an arrival rate, an average handle time (AHT) and a service-level target ("a share of contacts answered
within ``target_answer_s``"), work out how many agents must be taking contacts, how many to schedule once
shrinkage is allowed for, and what the agents available now can be expected to deliver.

Formulas (A = traffic in Erlangs, n = agents, t = target answer time, all times in seconds):

- ``A = λ · AHT``
- Erlang B by recursion: ``B(0) = 1``, ``B(k) = A·B(k−1) / (k + A·B(k−1))``
- Erlang C (probability of waiting): ``C = n·B(n) / (n − A·(1 − B(n)))``, for ``n > A``
- service level ``SL(n) = 1 − C·exp(−(n − A)·t / AHT)``, ASA ``= C·AHT / (n − A)``, occupancy ``= A / n``
- required agents: the smallest ``n > A`` with ``SL(n) ≥ target`` and, if set, ``A / n ≤ max occupancy``;
  scheduled agents ``= ceil(n / (1 − shrinkage))``

The recursion never forms factorials or powers of A: every B(k) lies in (0, 1], so it neither overflows nor
loses precision for thousands of Erlangs. With ``n ≤ A`` the queue is unstable (it grows without bound):
that is reported (``stable=False``, SL 0, ASA ``None``), never raised.

Erlang C assumes Poisson arrivals, exponential handle times, identical agents, an infinite queue, no
abandonment and a steady state; its results are indicative (see docs/staffing.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Beyond this the model is no longer a contact-centre question (and a forecast would take seconds to compute).
MAX_TRAFFIC_ERLANGS = 100_000.0

NO_WORKLOAD = "no_workload"
SERVICE_LEVEL = "service_level"
OCCUPANCY = "occupancy"


@dataclass(frozen=True)
class Outlook:
    """What ``agents`` agents taking contacts can be expected to deliver under the model.

    ``stable`` is False when ``agents ≤ A``: the queue then grows without bound, every contact waits
    (``wait_probability`` 1), the service level is 0, the ASA is unbounded (``None``) and agents are fully
    busy (``occupancy`` 1). ``occupancy`` is ``None`` for zero agents.
    """

    agents: int
    stable: bool
    wait_probability: float
    service_level: float
    asa_s: float | None
    occupancy: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StaffingForecast:
    """Every figure of one forecast. ``limited_by`` says which constraint set ``required_agents``:
    ``service_level``, ``occupancy`` (the maximum occupancy needed more agents than the SL target), or
    ``no_workload`` (no arrivals or zero handle time: nobody is needed)."""

    arrival_rate_per_s: float
    aht_s: float
    traffic_erlangs: float
    target_sl: float
    target_answer_s: float
    shrinkage: float
    max_occupancy: float | None
    required_agents: int
    scheduled_agents: int
    limited_by: str
    at_required: Outlook
    now: Outlook | None

    @property
    def arrivals_per_hour(self) -> float:
        return self.arrival_rate_per_s * 3600.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["arrivals_per_hour"] = self.arrivals_per_hour
        return out


# --- validation ---------------------------------------------------------------------------------------------


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def _non_negative(name: str, value: float) -> float:
    value = _number(name, value)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value:g}")
    return value


def _agents(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number of agents, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _traffic(a: float) -> float:
    a = _non_negative("traffic (Erlangs)", a)
    if a > MAX_TRAFFIC_ERLANGS:
        raise ValueError(f"traffic of {a:g} Erlangs is beyond the model's range (at most {MAX_TRAFFIC_ERLANGS:g})")
    return a


def _share(name: str, value: float) -> float:
    value = _number(name, value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be a share in (0, 1], e.g. 0.8 for 80 %, got {value:g}")
    return value


def _shrinkage(value: float) -> float:
    value = _number("shrinkage", value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"shrinkage must be a share in [0, 1), e.g. 0.3 for 30 %, got {value:g}")
    return value


# --- the model ----------------------------------------------------------------------------------------------


def arrival_rate(contacts: float, interval_s: float) -> float:
    """Contacts per second from a count over an interval of ``interval_s`` seconds."""
    contacts = _non_negative("contacts", contacts)
    interval_s = _number("interval_s", interval_s)
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s:g}")
    return contacts / interval_s


def traffic_intensity(arrival_rate_per_s: float, aht_s: float) -> float:
    """A = λ · AHT, in Erlangs (the average number of contacts being handled at once)."""
    return _non_negative("arrival rate", arrival_rate_per_s) * _non_negative("aht_s", aht_s)


def _erlang_b_from(b: float, start: int, stop: int, a: float) -> float:
    """Continue the Erlang B recursion from B(start) = b up to B(stop)."""
    for k in range(start + 1, stop + 1):
        if b == 0.0:  # underflowed: it stays 0 from here on
            break
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_b(agents: int, a: float) -> float:
    """Erlang B blocking probability B(agents, A), by the recursion (stable for any size)."""
    return _erlang_b_from(1.0, 0, _agents("agents", agents), _traffic(a))


def _erlang_c_from_b(n: int, a: float, b: float) -> float:
    return n * b / (n - a * (1.0 - b))


def erlang_c(agents: int, a: float) -> float:
    """Erlang C probability of waiting: 0 without traffic, 1 when ``agents ≤ A`` (unstable queue)."""
    n, a = _agents("agents", agents), _traffic(a)
    if a == 0.0:
        return 0.0
    if n <= a:
        return 1.0
    return _erlang_c_from_b(n, a, _erlang_b_from(1.0, 0, n, a))


def _outlook(n: int, a: float, aht_s: float, target_answer_s: float, c: float | None = None) -> Outlook:
    if a == 0.0:  # nothing arrives or nothing takes time: nobody waits
        return Outlook(n, True, 0.0, 1.0, 0.0, 0.0 if n else None)
    if n <= a:
        return Outlook(n, False, 1.0, 0.0, None, 1.0 if n else None)
    if c is None:
        c = _erlang_c_from_b(n, a, _erlang_b_from(1.0, 0, n, a))
    spare = n - a
    sl = 1.0 - c * math.exp(-spare * target_answer_s / aht_s)
    return Outlook(n, True, c, min(1.0, max(0.0, sl)), c * aht_s / spare, a / n)


def predict(agents: int, a: float, aht_s: float, target_answer_s: float) -> Outlook:
    """Predicted wait probability, service level, ASA and occupancy with ``agents`` agents taking contacts."""
    return _outlook(
        _agents("agents", agents),
        _traffic(a),
        _non_negative("aht_s", aht_s),
        _non_negative("target_answer_s", target_answer_s),
    )


def service_level(agents: int, a: float, aht_s: float, target_answer_s: float) -> float:
    """SL(n) = 1 − C·exp(−(n − A)·t/AHT); 0 for an unstable queue."""
    return predict(agents, a, aht_s, target_answer_s).service_level


def asa(agents: int, a: float, aht_s: float) -> float | None:
    """Average speed of answer C·AHT/(n − A), in the unit of ``aht_s``; ``None`` (unbounded) when n ≤ A."""
    return predict(agents, a, aht_s, 0.0).asa_s


def _min_agents_for_occupancy(a: float, max_occupancy: float) -> int:
    n = max(1, math.ceil(a / max_occupancy))
    while a / n > max_occupancy:  # guard against rounding in the division above
        n += 1
    while n > 1 and a / (n - 1) <= max_occupancy:
        n -= 1
    return n


def _required(
    a: float, aht_s: float, target_sl: float, target_answer_s: float, max_occupancy: float | None
) -> tuple[int, str, Outlook]:
    if a == 0.0:
        return 0, NO_WORKLOAD, _outlook(0, a, aht_s, target_answer_s)
    n = math.floor(a) + 1  # the smallest n > A
    b = _erlang_b_from(1.0, 0, n, a)
    # SL(n) rises with n and reaches 1 within a few multiples of sqrt(A) past A; the cap is only a backstop.
    limit = n + 1000 + int(100 * math.sqrt(a))
    while True:
        c = _erlang_c_from_b(n, a, b)
        outlook = _outlook(n, a, aht_s, target_answer_s, c)
        if outlook.service_level >= target_sl:
            break
        if n >= limit:  # pragma: no cover - unreachable for targets in (0, 1]
            raise ValueError(f"service level {target_sl:g} is out of reach for {a:g} Erlangs")
        n += 1
        b = _erlang_b_from(b, n - 1, n, a)
    limited_by = SERVICE_LEVEL
    if max_occupancy is not None:
        n_occ = _min_agents_for_occupancy(a, max_occupancy)
        if n_occ > n:
            n, limited_by = n_occ, OCCUPANCY
            outlook = _outlook(n, a, aht_s, target_answer_s)
    return n, limited_by, outlook


def required_agents(
    a: float, aht_s: float, target_sl: float, target_answer_s: float, max_occupancy: float | None = None
) -> int:
    """The smallest n > A meeting the SL target and, if given, the maximum occupancy (0 without traffic)."""
    a, aht_s = _traffic(a), _non_negative("aht_s", aht_s)
    target_sl = _share("target_sl", target_sl)
    target_answer_s = _non_negative("target_answer_s", target_answer_s)
    if max_occupancy is not None:
        max_occupancy = _share("max_occupancy", max_occupancy)
    return _required(a, aht_s, target_sl, target_answer_s, max_occupancy)[0]


def scheduled_agents(required: int, shrinkage: float) -> int:
    """ceil(required / (1 − shrinkage)): agents to schedule so that ``required`` are taking contacts."""
    required, shrinkage = _agents("required", required), _shrinkage(shrinkage)
    # Round away float noise first: 14 / (1 − 0.3) is 20.000000000000004 in binary floating point.
    return math.ceil(round(required / (1.0 - shrinkage), 9))


def forecast(
    *,
    aht_s: float,
    target_sl: float,
    target_answer_s: float,
    arrival_rate_per_s: float | None = None,
    contacts: float | None = None,
    interval_s: float | None = None,
    agents: int | None = None,
    shrinkage: float = 0.0,
    max_occupancy: float | None = None,
) -> StaffingForecast:
    """The full staffing forecast.

    Give the arrivals either as ``arrival_rate_per_s`` or as ``contacts`` over ``interval_s`` seconds.
    ``agents`` is the number taking contacts now (already net of shrinkage). ``shrinkage`` is the share of
    paid time unavailable for contacts, in [0, 1); ``max_occupancy`` a share in (0, 1]. Invalid input raises
    ``ValueError`` with a message fit for an end user.
    """
    if arrival_rate_per_s is not None:
        if contacts is not None or interval_s is not None:
            raise ValueError("give either arrival_rate_per_s or contacts and interval_s, not both")
        rate = _non_negative("arrival rate", arrival_rate_per_s)
        a = rate * _non_negative("aht_s", aht_s)
    else:
        if contacts is None or interval_s is None:
            raise ValueError("give the arrivals: arrival_rate_per_s, or contacts and interval_s")
        rate = arrival_rate(contacts, interval_s)
        # contacts · AHT / interval: multiplying first keeps whole-number inputs exact (100 · 180 / 1800 = 10).
        a = float(contacts) * _non_negative("aht_s", aht_s) / float(interval_s)
    a = _traffic(a)
    aht_s = float(aht_s)
    target_sl = _share("target_sl", target_sl)
    target_answer_s = _non_negative("target_answer_s", target_answer_s)
    shrinkage = _shrinkage(shrinkage)
    if max_occupancy is not None:
        max_occupancy = _share("max_occupancy", max_occupancy)
    if agents is not None:
        agents = _agents("agents", agents)

    n, limited_by, at_required = _required(a, aht_s, target_sl, target_answer_s, max_occupancy)
    now = None if agents is None else _outlook(agents, a, aht_s, target_answer_s)
    return StaffingForecast(
        arrival_rate_per_s=rate,
        aht_s=aht_s,
        traffic_erlangs=a,
        target_sl=target_sl,
        target_answer_s=target_answer_s,
        shrinkage=shrinkage,
        max_occupancy=max_occupancy,
        required_agents=n,
        scheduled_agents=scheduled_agents(n, shrinkage),
        limited_by=limited_by,
        at_required=at_required,
        now=now,
    )
