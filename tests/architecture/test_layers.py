"""The package structure as a contract: layers, no import circles, a pure core.

Layers, top to bottom: the command line > daemon (the shell) > store (the one writer, SQL)
> inbound | outbound (the pure pipeline and composition) > desk (the pure ticket domain) >
config > the small leaves. Arrows point down only. The pure packages never reach a
database, socket, SMTP/IMAP library or scheduler, directly or through another module.
Each check is also run on a planted violation, so that it is seen to fail.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tests.architecture.imports import (
    Graph,
    cycles,
    forbidden_reach,
    package_edges,
    read,
    upward_imports,
)

PACKAGE = Path(__file__).resolve().parents[2] / "maildesk"
LEAVES = ("maildesk", "maildesk.addresses", "maildesk.clock", "maildesk.logs", "maildesk.msgid")
LAYERS: dict[str, float] = {
    **dict.fromkeys(LEAVES, 0),
    "maildesk.config": 1,
    "maildesk.desk": 2,
    "maildesk.inbound": 3,
    "maildesk.outbound": 3,
    "maildesk.store": 4,
    "maildesk.daemon": 5,
    "maildesk.cli": 6,
    "maildesk.cli_import": 5.5,  # a command group: below cli.py, which registers it
    "maildesk.__main__": 7,
}
PURE = ("maildesk.config", "maildesk.desk", "maildesk.inbound", "maildesk.outbound", *LEAVES)
IO_LIBRARIES = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "aiosmtpd",
    "imapclient",
    "smtplib",
    "imaplib",
    "apscheduler",
    "socket",
    "ssl",
    "asyncio",
    "select",
    "subprocess",
    "threading",
    "multiprocessing",
)
MAX_LINES = 600


@pytest.fixture(scope="module")
def graph() -> Graph:
    return read(PACKAGE)


def test_every_package_and_module_has_a_layer(graph):
    units = {graph.package_of(m) for m in graph.modules}
    assert units <= set(LAYERS), f"give these a layer: {sorted(units - set(LAYERS))}"


def test_no_import_circle_between_modules(graph):
    assert cycles(graph.edges) == []


@pytest.mark.parametrize("depth", [2, 3])
def test_no_import_circle_between_packages(graph, depth):
    assert cycles(package_edges(graph, depth)) == []


def test_imports_point_down_the_layers_only(graph):
    assert upward_imports(graph, LAYERS) == []


def test_the_pure_packages_reach_no_io_library(graph):
    assert forbidden_reach(graph, PURE, IO_LIBRARIES) == []


def test_no_module_is_over_600_lines(graph):
    long = {
        m: n for m, p in graph.modules.items() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_package_says_its_role(graph):
    silent = [
        m
        for m, p in graph.modules.items()
        if p.name == "__init__.py" and not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert silent == []


# -- the same checks on a planted violation ------------------------------------------------

PLANTED = {
    "__init__.py": '"""Root."""\n',
    "leaf.py": "",
    "config/__init__.py": '"""Config."""\n',
    "config/settings.py": "from app.leaf import x\n",
    "desk/__init__.py": '"""Domain."""\n',
    "desk/view.py": "from app.config.settings import y\n",
    # a pure step reaching SQL through a helper of its own package
    "inbound/__init__.py": '"""Pipeline."""\n',
    "inbound/thread.py": "from app.inbound.lookup import q\n",
    "inbound/lookup.py": "import sqlalchemy\n",
    # a circle, and an upward import from the domain to the pipeline
    "inbound/decide.py": "from app.inbound.staff import s\nfrom app.desk.view import v\n",
    "inbound/staff.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
    "    from app.inbound.decide import d\n",
    "desk/effects.py": "def f():\n    from app.inbound.decide import d\n",
}
PLANTED_LAYERS = {"app": 0, "app.leaf": 0, "app.config": 1, "app.desk": 2, "app.inbound": 3}


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Graph:
    root = tmp_path_factory.mktemp("planted") / "app"
    for name, text in PLANTED.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return read(root)


def test_a_planted_circle_is_found_even_under_type_checking(planted):
    assert cycles(planted.edges) == [["app.inbound.decide", "app.inbound.staff"]]


def test_a_planted_package_circle_is_found(planted):
    assert cycles(package_edges(planted, 2)) == [["app.desk", "app.inbound"]]


def test_a_planted_upward_import_is_found(planted):
    wrong = upward_imports(planted, PLANTED_LAYERS)
    assert wrong == ["app.desk.effects -> app.inbound.decide (app.desk may not import app.inbound)"]


def test_a_planted_io_import_is_found_through_another_module(planted):
    wrong = forbidden_reach(planted, ("app.inbound",), ("sqlalchemy",))
    assert "app.inbound.thread reaches sqlalchemy through app.inbound.lookup" in wrong
