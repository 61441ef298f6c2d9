"""The rule for tests that need an external tool (tests/support/tools.py): fail under CI, skip elsewhere."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support import tools

ROOT = Path(__file__).resolve().parents[3]
ABSENT = "deskpulse-no-such-tool-7f3a"


@pytest.fixture
def outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")


def test_a_tool_that_is_there_is_found_by_name_path_or_alternative(outside_ci):
    sh = shutil.which("sh")
    assert sh
    assert tools.require_tool("sh") == sh
    assert tools.require_tool(sh) == sh  # a configured path, like DESKPULSE_CHROMIUM
    assert tools.require_tool(ABSENT, "sh") == sh  # e.g. prometheus-alertmanager or alertmanager


def test_a_missing_tool_skips_outside_ci_with_the_install_command(outside_ci):
    with pytest.raises(pytest.skip.Exception, match=ABSENT) as skipped:
        tools.require_tool(ABSENT)
    assert "deploy/local/install-prerequisites.sh" in str(skipped.value)
    with pytest.raises(pytest.skip.Exception, match="Debian package prometheus-alertmanager"):
        tools.require_tool(ABSENT, hint=tools.install_hint("amtool"))


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_a_missing_tool_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=f"{ABSENT} is not installed.*broken setup"):
        tools.require_tool(ABSENT)


def test_an_empty_ci_variable_is_not_ci(monkeypatch):
    monkeypatch.setenv("CI", "")  # as the Makefile's `[ -n "$CI" ]` reads it
    with pytest.raises(pytest.skip.Exception):
        tools.require_tool(ABSENT)


def test_python_modules_follow_the_same_rule(outside_ci, monkeypatch):
    assert tools.require_module("json").dumps([1]) == "[1]"
    with pytest.raises(pytest.skip.Exception, match=r"\.\[test\]"):
        tools.require_module("deskpulse_no_such_module")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="deskpulse_no_such_module"):
        tools.require_module("deskpulse_no_such_module")


def test_the_hints_name_the_packages_the_install_script_installs():
    """The script checks each command and installs its package: ``command -v X ... || missing+=(package)``."""
    script = (ROOT / tools.INSTALL_SCRIPT).read_text()
    installs = dict(re.findall(r"command -v (\S+) .*\|\| missing\+=\((\S+)\)", script))
    packages = set(installs.values())
    assert {"promtool", "amtool", "chromium", "chromedriver"} <= installs.keys()
    for tool, package in tools.PACKAGES.items():
        assert package in packages, (tool, package)
        if tool in installs:
            assert installs[tool] == package, tool


def test_ci_runs_the_install_script_before_the_tests():
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert steps.index(f"bash {tools.INSTALL_SCRIPT}") < steps.index("make test")
