"""config.example.toml documents every key, with the embedded defaults as values."""

import dataclasses
import tomllib
from pathlib import Path

from maildesk import config

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def test_example_loads_and_equals_the_embedded_defaults():
    config.load(EXAMPLE)  # loads as a file (relative paths then resolve against its folder)
    loaded = config.from_mapping(tomllib.loads(EXAMPLE.read_text()))
    assert dataclasses.replace(loaded, source="x") == dataclasses.replace(
        config.Config(), source="x"
    )


def test_example_mentions_every_key():
    text = EXAMPLE.read_text()
    for section in dataclasses.fields(config.Config):
        if section.name == "source":
            continue
        assert f"[{section.name}]" in text
        value = getattr(config.Config(), section.name)
        if not dataclasses.is_dataclass(value):
            assert f"[[{section.name}]]" in text, f"[[{section.name}]] is not documented"
            continue
        for key in dataclasses.fields(value):
            spelled = {"opening_hours": "\nmonday = ", "objectives": "[sla.critical]"}
            documented = (
                f"\n{key.name} = " in text
                or f"[{section.name}.{key.name}]" in text
                or spelled.get(key.name, "\0") in text
            )
            assert documented, f"{section.name}.{key.name} is not documented"
