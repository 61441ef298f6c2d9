"""The Prometheus text exposition format (0.0.4) as ``prometheus_client`` writes it: headers, labels, values. Pure.

Every family gets ``# HELP`` and ``# TYPE`` once, followed by all of its samples; label values and help text are
escaped as ``generate_latest`` escapes them; values are written as ``floatToGoString`` writes them (``num``).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.utils import floatToGoString

from services.api.metric_catalogue import Family


def escape(value: str) -> str:
    """A label value, escaped: backslash, newline and double quote."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def labels(names: Iterable[str], values: Iterable[str]) -> str:
    """``name="value",...`` (without braces), the values escaped."""
    return ",".join(f'{n}="{escape(v)}"' for n, v in zip(names, values))


def num(value: float) -> str:
    """A sample value: an int as is, a float as Go writes it (``+Inf``, ``NaN``, exponents above 1e6)."""
    if type(value) is int:
        return str(value)
    return floatToGoString(value)


def header(family: Family) -> str:
    """The family's ``# HELP`` and ``# TYPE`` lines."""
    help_ = family.help.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {family.name} {help_}\n# TYPE {family.name} {family.type}\n"
