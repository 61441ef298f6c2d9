"""``deskpulse aggregator`` with the engine a no-op, for ``bench/aggregator_kafka.py --engine-off``: what Faust's
own path costs per event (fetching, the stream and its batches, acknowledging) with the worker's event parsing and
metrics, but no contact table writes, changelog or snapshots. Not a way to run deskpulse.

    .venv/bin/python -m bench._engine_off aggregator --metrics-port 9105
"""

from __future__ import annotations

import sys

from services import cli
from services.aggregator.engine import Engine


def _handle(self, partition, event, wall_ms):
    return "applied"


Engine.handle = _handle  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
