"""Every reference a reader can follow resolves in a clone: the design notes cited across the code and docs
(``KPIS.md §8``) are in docs/design/, and every relative link in docs/ and README.md points at a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DESIGN = ROOT / "docs" / "design"
NOTE = re.compile(r"(?<![/\w])([A-Z]{4,})\.md\b")  # a bare name: a path (deploy/VERSIONS.md) is a file of its own
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SOURCES = [
    *ROOT.glob("services/**/*.py"),
    *ROOT.glob("tests/**/*.py"),
    *ROOT.glob("tests/fixtures/**/*.md"),
    *ROOT.glob("docs/*.md"),
    ROOT / "README.md",
    ROOT / "pyproject.toml",
]
NOT_NOTES = {"README"}  # a file name, not a design note


def test_every_design_note_cited_is_in_docs_design():
    cited = {
        name
        for path in SOURCES
        for name in NOTE.findall(path.read_text(encoding="utf-8", errors="replace"))
        if name not in NOT_NOTES
    }
    assert {"KPIS", "STACK", "OBSERVABILITY"} <= cited  # the scan reads what it should
    assert sorted(name for name in cited if not (DESIGN / f"{name}.md").is_file()) == []


@pytest.mark.parametrize(
    "page", [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_relative_links_point_at_files(page):
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t and not t.startswith("mailto:")]
    assert sorted(t for t in targets if not (page.parent / t).exists()) == []
