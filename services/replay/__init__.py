"""Replay of real helpdesk event logs as canonical events (``deskpulse replay``).

- :mod:`services.replay.bpi2013` and :mod:`services.replay.helpdesk`: pure, streaming importers (generators
  of canonical event documents); the mappings are documented in ``docs/datasets.md``.
- :mod:`services.replay.schedule`: the pure timing logic (order, limit, which events are due when, rebase).
- :mod:`services.replay.targets`: sending batches to ingest over HTTP or to Kafka directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from services.common.settings import REPO_ROOT

DATA_DIR = REPO_ROOT / "data"

# name -> (default file, importer module name)
DATASETS: dict[str, tuple[Path, str]] = {
    "bpi2013": (DATA_DIR / "bpi2013_incidents" / "bpi_challenge_2013_incidents.xes.gz", "bpi2013"),
    "helpdesk": (DATA_DIR / "helpdesk" / "finale.csv", "helpdesk"),
}


def resolve(dataset: str) -> tuple[str, Path]:
    """``bpi2013``/``helpdesk`` (the files under ``data/``) or a path: ``*.xes[.gz]`` → bpi2013, ``*.csv`` → helpdesk."""
    if dataset in DATASETS:
        path, kind = DATASETS[dataset]
        return kind, path
    path = Path(dataset)
    name = path.name.lower()
    if name.endswith((".xes", ".xes.gz")):
        return "bpi2013", path
    if name.endswith(".csv"):
        return "helpdesk", path
    known = ", ".join(sorted(DATASETS))
    raise ValueError(f"unknown dataset {dataset!r}: use {known}, or a path to a .xes, .xes.gz or .csv file")


def importer(kind: str) -> Callable[..., Iterator[dict]]:
    """The ``events(path, ...)`` generator of an importer."""
    if kind == "bpi2013":
        from services.replay import bpi2013

        return bpi2013.events
    if kind == "helpdesk":
        from services.replay import helpdesk

        return helpdesk.events
    raise ValueError(f"unknown importer {kind!r}")
