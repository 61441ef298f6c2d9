"""``make bench``: every benchmark of docs/performance.md in one run, on one broker, beside its baseline.

    .venv/bin/python bench/run.py [--only ingest,freshness] [--quick] [--output PATH]

Starts one local Kafka for the whole run (or uses ``DESKPULSE_KAFKA_BOOTSTRAP``), runs the bench modules in
order (ingest, aggregator_kafka, freshness, scale, stream, recovery; each exposes ``run(ctx) -> list[Figure]``),
prints a table (figure | value | baseline | ratio | goal | met) and writes the machine, the commit and every
row to ``bench/results.json``. A module that is missing or fails becomes an error row; the run goes on.
Progress goes to stderr, the table to stdout. A partial run (``--only`` or ``--quick``) writes
``bench/results.partial.json`` instead, so the committed record is always a whole run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import BenchContext, Figure, error_figure, progress, shared_broker  # noqa: E402

MODULES = ("ingest", "aggregator_kafka", "freshness", "scale", "stream", "recovery")
ALIASES = {"aggregator": "aggregator_kafka"}
RESULTS = REPO / "bench" / "results.json"
PARTIAL = REPO / "bench" / "results.partial.json"


def as_figure(row) -> Figure:
    """A module's row as a Figure (modules may return Figures, or dicts with the same fields)."""
    if isinstance(row, dict):
        fields = {k: row.get(k) for k in Figure.__dataclass_fields__ if k in row}
        return Figure(**fields)
    return Figure(**{k: getattr(row, k, None) for k in Figure.__dataclass_fields__
                     if hasattr(row, k)})


def run_module(name: str, ctx: BenchContext) -> list[Figure]:
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"bench.{name}",):
            return [error_figure(name, f"bench/{name}.py does not exist yet")]
        return [error_figure(name, f"import failed: {exc!r}")]
    except Exception as exc:  # noqa: BLE001 - a broken module is a row, not the end of the run
        return [error_figure(name, f"import failed: {exc!r}")]
    if not hasattr(module, "run"):
        return [error_figure(name, f"bench/{name}.py has no run(ctx)")]
    try:
        rows = module.run(ctx)
        return [as_figure(r) for r in rows]
    except Exception as exc:  # noqa: BLE001
        progress(f"{name} failed:\n{traceback.format_exc()}")
        return [error_figure(name, f"{type(exc).__name__}: {exc}"[:500])]


# -- machine -----------------------------------------------------------------------------------------------------


def machine() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    return {
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "memory_bytes": memory,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "services", "bench")),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg()[0],
    }


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average every 5 s, so each module's figures come with how busy the machine was."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), os.getloadavg()[0]))
            self.stop.wait(5)

    def mean(self, start: float, end: float) -> float | None:
        values = [v for t, v in self.samples if start <= t <= end]
        return round(sum(values) / len(values), 2) if values else None


# -- table -------------------------------------------------------------------------------------------------------


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def table(figures: list[Figure]) -> str:
    head = ("figure", "value", "baseline", "ratio", "goal", "met")
    rows = []
    for f in figures:
        if f.error:
            rows.append((f.name, "ERROR", "-", "-", f.goal or "-", "error"))
            continue
        ratio = f.ratio
        rows.append((f.name, fmt(f.value, f.unit), fmt(f.baseline, f.unit), "-" if ratio is None else f"{ratio:.2f}",
                     f.goal or "-", {True: "yes", False: "NO", None: "-"}[f.met]))
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    return "\n".join(out)


def details(figures: list[Figure]) -> str:
    out = []
    for f in figures:
        text = f"ERROR: {f.error}" if f.error else f.detail
        if text:
            out.append(f"- {f.name}: {text}")
    return "\n".join(out)


def render(record: dict) -> str:
    """The heading, the table and the how-measured lines of a results record (as written to results.json)."""
    info = record["machine"]
    figures = [as_figure({k: v for k, v in row.items() if k != "ratio"}) for row in record["figures"]]
    for f in figures:
        if f.value is None:
            f.value = float("nan")
    quick = ", QUICK (smoke sizes)" if record.get("quick") else ""
    dirty = " (with uncommitted changes)" if info.get("git_dirty") else ""
    head = (f"deskpulse benchmarks: {info['cpu_count']} CPUs ({info['cpu_model']}), Python {info['python']}, "
            f"commit {(info['git_commit'] or '?')[:10]}{dirty}, {info['date']}{quick}; load average "
            f"{info['loadavg_start']:.1f} at start, {info.get('loadavg_end', float('nan')):.1f} at end; "
            f"{info.get('seconds', 0):.0f} s")
    return "\n\n".join([head, table(figures), details(figures)])


# -- main --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated modules: " + ", ".join(MODULES))
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run, not a record")
    parser.add_argument("--show", nargs="?", const=RESULTS, type=Path, metavar="RESULTS",
                        help="print the table of a results file (default bench/results.json) without running")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (broker data, service logs)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the results (default {RESULTS.relative_to(REPO)} for a whole run, "
                             f"{PARTIAL.relative_to(REPO)} for --only/--quick)")
    args = parser.parse_args(argv)

    if args.show:
        print(render(json.loads(args.show.read_text())))
        return 0

    selected = list(MODULES)
    if args.only:
        wanted = [ALIASES.get(n.strip(), n.strip()) for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in MODULES]
        if unknown:
            parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        selected = [m for m in MODULES if m in wanted]
    partial = bool(args.only) or args.quick
    output = args.output or (PARTIAL if partial else RESULTS)

    info = machine()
    progress(f"{info['cpu_count']} CPUs ({info['cpu_model']}), Python {info['python']}, commit "
             f"{(info['git_commit'] or '?')[:10]}{' (dirty)' if info['git_dirty'] else ''}; modules: "
             f"{', '.join(selected)}{' (quick)' if args.quick else ''}")
    if info["loadavg_start"] > 0.5 * (info["cpu_count"] or 1):
        progress(f"load average {info['loadavg_start']:.1f} on {info['cpu_count']} CPUs before the run: other work "
                 f"shares this machine, absolute figures will be low (the ratios to baselines less so)")
    started = time.monotonic()
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    loads: dict[str, float | None] = {}
    sampler = LoadSampler()
    sampler.start()
    root = Path(tempfile.mkdtemp(prefix="deskpulse-bench-"))
    try:
        with shared_broker(root) as bootstrap:
            info["kafka_bootstrap"] = "DESKPULSE_KAFKA_BOOTSTRAP" if os.environ.get("DESKPULSE_KAFKA_BOOTSTRAP") \
                else "local broker started by bench/run.py"
            for name in selected:
                workdir = root / name
                workdir.mkdir(parents=True, exist_ok=True)
                ctx = BenchContext(bootstrap=bootstrap, quick=args.quick, workdir=workdir)
                progress(f"{name}: starting")
                t = time.monotonic()
                rows = run_module(name, ctx)
                timings[name] = round(time.monotonic() - t, 1)
                loads[name] = sampler.mean(t, time.monotonic())
                for f in rows:
                    goal = f" (goal {f.goal})" if f.goal else ""
                    shown = f"ERROR {f.error}" if f.error else f"{fmt(f.value, f.unit)}{goal}"
                    progress(f"{name}: {f.name}: {shown}")
                progress(f"{name}: done in {timings[name]:.0f} s (mean load average {loads[name]})")
                figures.extend(rows)
    except Exception as exc:  # noqa: BLE001 - e.g. the broker would not start: still print and record
        progress(f"run failed: {traceback.format_exc()}")
        figures.append(error_figure("broker", f"{type(exc).__name__}: {exc}"[:500]))
    if args.keep:
        progress(f"logs and broker data kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)

    info["loadavg_end"] = os.getloadavg()[0]
    info["seconds"] = round(time.monotonic() - started, 1)
    info["module_seconds"] = timings
    info["module_loadavg"] = loads  # mean 1-minute load average while each module ran
    sampler.stop.set()
    record = {"machine": info, "quick": args.quick, "modules": selected, "figures": [f.to_dict() for f in figures]}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")

    print()
    print(render(record))
    print()
    print(f"written to {output.relative_to(REPO) if output.is_relative_to(REPO) else output} "
          f"in {info['seconds']:.0f} s")
    return 1 if any(f.error for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
