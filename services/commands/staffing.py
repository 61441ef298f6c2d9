"""``deskpulse staffing``: the Erlang C staffing forecast (services/domain/erlang.py) from the command line."""

from __future__ import annotations

import argparse
import json
import sys

from services.domain import erlang


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f} %"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _outlook_lines(outlook: erlang.Outlook, f: erlang.StaffingForecast) -> list[tuple[str, str]]:
    sl = f"{_pct(outlook.service_level)} answered within {_seconds(f.target_answer_s)}"
    if outlook.stable and outlook.service_level < f.target_sl:
        sl += "  (below target)"
    if not outlook.stable:
        if outlook.agents == 0:
            note = "no agents: nothing is answered"
        else:
            note = f"{outlook.agents} agents <= {f.traffic_erlangs:.2f} Erlangs offered: the queue grows without bound"
        return [
            ("  Queue", f"UNSTABLE: {note}"),
            ("  Service level", sl),
            ("  Average speed of answer", "infinite (unstable queue)"),
            ("  Probability of waiting", _pct(outlook.wait_probability)),
            ("  Occupancy", _pct(outlook.occupancy)),
        ]
    return [
        ("  Service level", sl),
        ("  Average speed of answer", f"{outlook.asa_s:.1f} s"),
        ("  Probability of waiting", _pct(outlook.wait_probability)),
        ("  Occupancy", _pct(outlook.occupancy)),
    ]


def render_text(f: erlang.StaffingForecast, contacts: float, interval_s: float) -> str:
    limited = {
        erlang.SERVICE_LEVEL: "set by the service-level target",
        erlang.OCCUPANCY: "set by the maximum occupancy",
        erlang.NO_WORKLOAD: "no workload",
    }[f.limited_by]
    rows: list[tuple[str, str]] = [
        ("Arrivals", f"{contacts:g} contacts in {_seconds(interval_s)} ({f.arrivals_per_hour:.1f} per hour)"),
        ("Average handle time", _seconds(f.aht_s)),
        ("Workload", f"{f.traffic_erlangs:.2f} Erlangs"),
        ("Target", f"{_pct(f.target_sl)} answered within {_seconds(f.target_answer_s)}"),
        ("Shrinkage", _pct(f.shrinkage)),
        ("Maximum occupancy", "none" if f.max_occupancy is None else _pct(f.max_occupancy)),
        ("", ""),
        ("Agents required", f"{f.required_agents} taking contacts ({limited})"),
        *_outlook_lines(f.at_required, f),
        ("Agents to schedule", f"{f.scheduled_agents} (required / (1 - shrinkage), rounded up)"),
    ]
    if f.now is not None:
        rows += [("", ""), ("Agents available now", str(f.now.agents)), *_outlook_lines(f.now, f)]
        gap = f.required_agents - f.now.agents
        if gap > 0:
            rows.append(("  Short of required", f"{gap} agents"))
    width = max(len(label) for label, _ in rows)
    lines = ["Staffing forecast (Erlang C; indicative: assumes no abandonment)"]
    lines += [f"{label:<{width}}  {value}".rstrip() for label, value in rows]
    return "\n".join(lines)


def cmd_staffing(args: argparse.Namespace) -> int:
    try:
        f = erlang.forecast(
            contacts=args.calls,
            interval_s=args.interval,
            aht_s=args.aht,
            target_sl=args.target_sl,
            target_answer_s=args.target_answer,
            agents=args.agents,
            shrinkage=args.shrinkage,
            max_occupancy=args.max_occupancy,
        )
    except ValueError as exc:
        print(f"deskpulse staffing: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(f.to_dict(), indent=2, allow_nan=False))
    else:
        print(render_text(f, args.calls, args.interval))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "staffing",
        help="Erlang C staffing forecast: agents needed for a service-level target",
        description="Agents needed to answer a share of contacts within a target time (Erlang C), agents to "
        "schedule after shrinkage, and what the agents available now can deliver. Indicative: "
        "Erlang C assumes Poisson arrivals and no abandonment.",
    )
    parser.add_argument("--calls", type=float, required=True, metavar="N", help="contacts arriving per interval")
    parser.add_argument("--interval", type=float, required=True, metavar="S", help="the interval, in seconds")
    parser.add_argument("--aht", type=float, required=True, metavar="S", help="average handle time, in seconds")
    parser.add_argument(
        "--target-sl", type=float, required=True, metavar="F", help="share to answer within --target-answer, e.g. 0.8"
    )
    parser.add_argument(
        "--target-answer",
        type=float,
        required=True,
        metavar="S",
        help="the service-level threshold, in seconds, e.g. 20",
    )
    parser.add_argument("--agents", type=int, metavar="N", help="agents taking contacts now (net of shrinkage)")
    parser.add_argument(
        "--shrinkage",
        type=float,
        default=0.0,
        metavar="F",
        help="share of paid time unavailable for contacts, in [0, 1) (default 0)",
    )
    parser.add_argument("--max-occupancy", type=float, metavar="F", help="highest acceptable occupancy, in (0, 1]")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(func=cmd_staffing)
