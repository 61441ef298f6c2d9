"""Starting and stopping deskpulse services as child processes (for ``deskpulse demo`` and the tests).

Children get their own session, so a Ctrl-C in the terminal reaches only the supervisor, which then stops
them in order; on Linux each child also asks the kernel for SIGTERM should its supervisor die, so nothing is
left behind even after a SIGKILL of the supervisor.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the supervisor's own shutdown still stops the children


def supervised() -> dict:
    """``subprocess.Popen`` arguments for a child the supervisor stops itself: a session of its own (a Ctrl-C in
    the terminal reaches only the supervisor) and, on Linux, SIGTERM from the kernel should the supervisor die."""
    return {"start_new_session": True, "preexec_fn": die_with_parent if sys.platform.startswith("linux") else None}


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    module: str = "services.cli"  # what ``python -m`` runs with ``args``

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                **supervised(),
            )

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has ended (``None`` while it runs, or before it is started)."""
        return None if self.process is None else self.process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.running:
            self.process.send_signal(sig)  # type: ignore[union-attr]

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit code."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing PID %d", self.name, timeout_s, proc.pid)
                proc.kill()
                proc.wait()
        return proc.returncode


def wait_http(url: str, timeout_s: float, service: Service | None = None) -> None:
    """Wait until ``url`` answers 200; fail early if the service process exits."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if service is not None and not service.running:
            raise RuntimeError(f"{service.name} exited with code {service.returncode}; see {service.log_path}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s: {last}")
