"""The packaging lists every package of the source tree and ships the templates."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_tree_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "maildesk").rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_the_shipped_templates_are_the_top_level_folder_in_a_checkout():
    from maildesk.daemon.app import SHIPPED_TEMPLATES

    assert SHIPPED_TEMPLATES == ROOT / "templates" / "emails"
