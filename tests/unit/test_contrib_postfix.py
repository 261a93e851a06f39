"""docs/admin-postfix.md shows the files of contrib/postfix exactly as shipped (and run by
tests/integration/test_postfix.py), and the README points to it."""

from pathlib import Path

import pytest

from tests.integration.postfix import CONTRIB, SNIPPETS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "admin-postfix.md"


@pytest.mark.parametrize("name", SNIPPETS)
def test_the_doc_shows_each_snippet_as_shipped(name):
    shipped = (CONTRIB / name).read_text(encoding="utf-8")
    assert f"```\n{shipped}```" in DOC.read_text(encoding="utf-8"), f"{name} differs"


def test_the_snippets_are_exactly_the_files_of_contrib_postfix():
    assert sorted(p.name for p in CONTRIB.iterdir()) == sorted(SNIPPETS)


def test_the_readme_points_to_the_doc():
    assert "docs/admin-postfix.md" in (ROOT / "README.md").read_text(encoding="utf-8")
