"""`[staff.people]` and `[digest]`: defaults, and wrong values named with their key."""

from __future__ import annotations

import pytest

from maildesk.config import ConfigError, from_mapping

STAFF = {"addresses": ["luc@help.example", "anna@help.example"]}


def test_defaults():
    config = from_mapping({"staff": STAFF})
    assert (config.digest.at, config.digest.send_empty) == ("08:00", False)
    assert config.staff.person("luc@help.example").digest is True
    assert config.staff.attachments_max_bytes == 10 * 1024 * 1024


def test_people_are_read():
    people = {"luc@help.example": {"language": "de", "digest": False, "queues": ["support"]}}
    config = from_mapping({"staff": STAFF | {"people": people}, "digest": {"at": "07:30"}})
    luc = config.staff.person("luc@help.example")
    assert (luc.language, luc.digest, luc.queues) == ("de", False, ("support",))
    assert config.digest.minutes == 7 * 60 + 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"digest": {"at": "8h"}}, "digest.at: '8h' must be a time of day as \"HH:MM\""),
        ({"digest": {"send_empty": "no"}}, "digest.send_empty: must be true or false"),
        ({"digest": {"when": "08:00"}}, "digest.when: unknown key"),
        (
            {"staff": STAFF | {"people": {"luc@help.example": {"language": "es"}}}},
            "'es' is not a supported language",
        ),
        (
            {"staff": STAFF | {"people": {"eve@x.example": {}}}},
            'staff.people."eve@x.example": not one of staff.addresses',
        ),
        (
            {"staff": STAFF | {"people": {"luc@help.example": {"queues": ["nope"]}}}},
            "'nope' is not a configured queue",
        ),
        (
            {"staff": STAFF | {"people": {"luc@help.example": {"digest": 1}}}},
            "digest: must be true or false",
        ),
    ],
)
def test_wrong_values_name_their_key(data: dict, message: str):
    with pytest.raises(ConfigError, match=None) as raised:
        from_mapping(data)
    assert message in str(raised.value)
