"""A small progress bar on stderr (no third-party library is installed for this): events sent / total, events/s.

On a terminal it redraws one line at most ten times a second; otherwise it writes a plain line every ten seconds.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def render(sent: int, total: int, elapsed_s: float, width: int = 30) -> str:
    """One status line (pure)."""
    fraction = sent / total if total else 1.0
    filled = int(fraction * width)
    rate = sent / elapsed_s if elapsed_s > 0 else 0.0
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {sent:,}/{total:,} events {fraction:6.1%}  {rate:,.0f} events/s  {elapsed_s:,.1f} s"


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, clock=time.monotonic) -> None:
        self.total = total
        self.sent = 0
        self.stream = stream or sys.stderr
        self.clock = clock
        self.started = clock()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = float("-inf")

    def update(self, sent: int, force: bool = False) -> None:
        self.sent = sent
        now = self.clock()
        if not force and now - self._last < (0.1 if self.tty else 10.0):
            return
        self._last = now
        line = render(sent, self.total, now - self.started)
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        self.update(self.sent, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started
