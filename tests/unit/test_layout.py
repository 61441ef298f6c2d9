"""The package rule of docs/architecture.md: the three services import the domain and common code, never each
other, and the domain imports nothing of the services (only the canonical event from common)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
FORBIDDEN = {
    "ingest": ("services.aggregator", "services.api"),
    "aggregator": ("services.ingest", "services.api"),
    "api": ("services.ingest", "services.aggregator"),
    "domain": ("services.ingest", "services.aggregator", "services.api", "services.demo", "services.replay",
               "services.commands"),
    "common": ("services.ingest", "services.aggregator", "services.api", "services.domain"),
}


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_the_layout_allows(package):
    wrong = sorted(
        f"{path.relative_to(SERVICES.parent)}: {name}"
        for path in (SERVICES / package).rglob("*.py")
        for name in imports(path)
        if name.startswith(FORBIDDEN[package])
    )
    assert wrong == []


def test_the_domain_takes_only_the_canonical_event_from_common():
    used = {
        name
        for path in (SERVICES / "domain").rglob("*.py")
        for name in imports(path)
        if name.startswith("services.common")
    }
    assert {name.rsplit(".", 1)[0] if name.count(".") > 2 else name for name in used} <= {"services.common.events"}


def test_the_rule_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from services.aggregator.kpis import contribution\nimport services.api.app\n")
    assert {"services.aggregator.kpis", "services.api.app"} <= imports(module)
