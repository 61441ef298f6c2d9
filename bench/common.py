"""Shared pieces of the benchmarks that ``make bench`` (``bench/run.py``) runs side by side in one run.

Every bench module exposes ``run(ctx: BenchContext) -> list[Figure]``:

- ``BenchContext`` carries the broker shared by the whole run (``bootstrap``), whether this is a smoke run with
  smaller sizes (``quick``) and a temp dir of its own (``workdir``);
- each ``Figure`` is one row of the table and of ``bench/results.json``: the measured value, the baseline
  measured in the same run on the same machine (when the goal compares with one), the goal as text and whether
  it was met.

Modules import this as ``from bench.common import BenchContext, Figure, ...`` (put the repository root on
``sys.path`` first when run as a script, as this module does on import). ``make bench`` runs them through
``bench/run.py``; a module's own ``__main__`` can use ``context_for_cli()`` and ``print_figures()``.

Also here: one broker for the whole run (``shared_broker``), unique topic names (``topic_names``), percentiles,
the resident memory of a process (``rss_bytes``) and ``progress`` lines on stderr.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class BenchContext:
    bootstrap: str  # a running broker shared by the whole run
    quick: bool = False  # smaller sizes for a smoke run
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="deskpulse-bench-")))


@dataclass
class Figure:
    name: str  # e.g. "ingest throughput"
    value: float
    unit: str  # e.g. "webhooks/s", "ms", "MiB", "s"
    goal: str  # human text, e.g. "≥ 5,000/s and ≥ 0.6 × baseline"
    met: bool | None = None  # None: no goal, or it could not be judged
    baseline: float | None = None  # same unit as value, measured in the same run
    detail: str = ""  # how it was measured: sizes, processes, baseline
    error: str | None = None  # set by the runner when the module failed; value is then NaN

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or self.value is None or math.isnan(self.value):
            return None
        return self.value / self.baseline

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        for key in ("value", "baseline"):
            if isinstance(out[key], float) and (math.isnan(out[key]) or math.isinf(out[key])):
                out[key] = None  # JSON has no NaN
        return out


def error_figure(name: str, message: str) -> Figure:
    return Figure(name=name, value=float("nan"), unit="", goal="", met=False, detail="", error=message)


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        return float("nan")
    s = sorted(samples)
    if len(s) == 1:
        return float(s[0])
    rank = (len(s) - 1) * q / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(s) - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (rank - lo))


def summary_ms(samples_s: Sequence[float]) -> str:
    """``p50 … ms, p99 … ms, max … ms (n=…)`` for samples in seconds."""
    if not samples_s:
        return "no samples"
    return (f"p50 {percentile(samples_s, 50) * 1000:.2f} ms, p99 {percentile(samples_s, 99) * 1000:.2f} ms, "
            f"max {max(samples_s) * 1000:.2f} ms (n={len(samples_s)})")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS from /proc), in bytes; 0 if it is gone."""
    return _status_kib(pid, "VmRSS:") * 1024


def peak_rss_bytes(pid: int) -> int:
    """Peak resident memory of a process (VmHWM), in bytes; 0 if it is gone."""
    return _status_kib(pid, "VmHWM:") * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (from /proc/<pid>/stat), in seconds; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def topic_names(prefix: str = "bench") -> dict[str, str]:
    """Fresh topic names and app id for one benchmark, as the environment variables the services read."""
    tag = f"{prefix}.{uuid.uuid4().hex[:8]}"
    return {
        "DESKPULSE_EVENTS_TOPIC": f"{tag}.events",
        "DESKPULSE_KPIS_TOPIC": f"{tag}.kpis",
        "DESKPULSE_DLQ_TOPIC": f"{tag}.dlq",
        "DESKPULSE_CONTACTS_TOPIC": f"{tag}.contacts",
        "DESKPULSE_AGGREGATOR_APP_ID": tag.replace(".", "-"),
    }


def progress(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def shared_broker(workdir: Path | None = None) -> Iterator[str]:
    """The broker for the whole run: ``DESKPULSE_KAFKA_BOOTSTRAP`` if set, else a local one started here and
    stopped (by its PID) at the end. Yields the bootstrap address."""
    bootstrap = os.environ.get("DESKPULSE_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    from services.common.localkafka import LocalKafka, free_port
    from services.common.settings import Settings

    settings = Settings()
    data_dir = (workdir or Path(tempfile.mkdtemp(prefix="deskpulse-bench-"))) / "kafka"
    broker = LocalKafka(settings.kafka_version, settings.cache_dir, data_dir, free_port(), free_port(),
                        heap=os.environ.get("DESKPULSE_KAFKA_HEAP", "-Xms512m -Xmx1g"))
    seconds = broker.start()
    progress(f"local Kafka {settings.kafka_version} ready at {broker.bootstrap} in {seconds:.1f} s")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def context_for_cli(quick: bool = False) -> contextlib.AbstractContextManager[BenchContext]:
    """For a module's own ``__main__``: a context with its own broker (or ``DESKPULSE_KAFKA_BOOTSTRAP``)."""

    @contextlib.contextmanager
    def manager() -> Iterator[BenchContext]:
        workdir = Path(tempfile.mkdtemp(prefix="deskpulse-bench-"))
        with shared_broker(workdir) as bootstrap:
            yield BenchContext(bootstrap=bootstrap, quick=quick, workdir=workdir)

    return manager()


def print_figures(figures: Sequence[Figure]) -> None:
    """A module's own ``__main__`` prints its rows with this (the runner prints the whole table)."""
    for f in figures:
        if f.error:
            print(f"{f.name}: ERROR {f.error}")
            continue
        base = f"; baseline {f.baseline:,.2f} (ratio {f.ratio:.2f})" if f.baseline is not None and f.ratio else ""
        met = {True: "met", False: "MISSED", None: "-"}[f.met]
        print(f"{f.name}: {f.value:,.2f} {f.unit}{base}; goal {f.goal}: {met}\n    {f.detail}")
