"""External tools the tests run (promtool, amtool, Prometheus, Alertmanager, Chromium, ChromeDriver, Selenium).

The one rule for a missing tool: **under CI it fails the test, elsewhere it skips it.** CI (``CI=true bash
.ci/run``) installs every tool with deploy/local/install-prerequisites.sh before ``make test``, so a tool missing
there is a broken setup that a skip would hide; on a developer's machine a skip with the install command is
enough. ``CI`` counts as set when it is non-empty, as the Makefile's ``unit-future`` target reads it.

Call :func:`require_tool` / :func:`require_module` in a test or a fixture (under CI the test then fails and the
others still run); at module level only for an import the module cannot do without (a missing one skips the
module, or fails its collection under CI, which stops the run).
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

INSTALL_SCRIPT = "deploy/local/install-prerequisites.sh"
# tool -> the Debian package deploy/local/install-prerequisites.sh installs it from (tests/unit/support checks
# that the script really does)
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "alertmanager": "prometheus-alertmanager",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
}
PYTHON_TEST_EXTRAS = "pip install -e '.[test]' (make test installs the test extras)"


def in_ci() -> bool:
    """Whether the tests run under CI: the ``CI`` environment variable is set and not empty."""
    return bool(os.environ.get("CI"))


def install_hint(tool: str) -> str:
    """The command that installs ``tool`` (a name or a path)."""
    package = PACKAGES.get(Path(tool).name)
    where = f" (Debian package {package})" if package else ""
    return f"install it with: sudo bash {INSTALL_SCRIPT}{where}"


def missing(what: str, hint: str) -> NoReturn:
    """Fail under CI, skip elsewhere. Works in a test, a fixture or at module level."""
    if in_ci():
        pytest.fail(f"{what}: {hint}. CI installs it before the tests (.ci/run runs {INSTALL_SCRIPT}), so its "
                    f"absence is a broken setup, not a reason to skip", pytrace=False)
    pytest.skip(f"{what}: {hint}", allow_module_level=True)


def find_tool(name: str) -> str | None:
    """``name`` on PATH, or in /usr/bin where the Debian packages put it (a path is taken as it is)."""
    found = shutil.which(name)
    if found:
        return found
    fallback = Path("/usr/bin") / name
    return str(fallback) if os.sep not in name and os.access(fallback, os.X_OK) else None


def require_tool(name: str, *alternatives: str, hint: str | None = None) -> str:
    """The path of ``name`` (or else of the first of ``alternatives`` found): skip the test without it, or fail
    it under CI."""
    for candidate in (name, *alternatives):
        found = find_tool(candidate)
        if found:
            return found
    names = " or ".join((name, *alternatives))
    missing(f"{names} is not installed", hint or install_hint(name))


def require_module(name: str, hint: str = PYTHON_TEST_EXTRAS) -> ModuleType:
    """The imported Python module ``name``: skip without it, or fail under CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"Python module {name} cannot be imported ({exc})", hint)
