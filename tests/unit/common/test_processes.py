"""Children started by a supervisor (services/common/processes.py) die with it, however it dies."""

import os
import signal
import subprocess
import sys
import time

import pytest

SUPERVISOR = """
import subprocess, sys, time
from services.common.processes import supervised
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **supervised())
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_supervised_child_is_stopped_when_its_supervisor_is_killed():
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR], stdout=subprocess.PIPE, text=True,
                                  cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    child = int(supervisor.stdout.readline())
    os.kill(child, 0)  # alive
    supervisor.send_signal(signal.SIGKILL)  # no chance to stop anything itself
    supervisor.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return  # gone (reaped by init once the kernel's SIGTERM ended it)
        if _is_zombie(child):
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child outlived its SIGKILLed supervisor")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
