"""The demo's own output (services/demo/run.py) when its reader has gone."""

import os
import sys

from services.demo import run


def test_lines_to_a_closed_pipe_are_dropped_not_raised(monkeypatch):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `make demo | tee log`, and tee stopped by the same Ctrl-C
    saved = os.dup(1)
    try:
        os.dup2(write_end, 1)
        stdout = os.fdopen(1, "w", closefd=False)
        monkeypatch.setattr(sys, "stdout", stdout)
        run._say("stopping…")  # BrokenPipeError inside: handled
        run._say("stopped.")  # and the next line goes to /dev/null
        assert os.readlink("/proc/self/fd/1") == os.devnull
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write_end)
