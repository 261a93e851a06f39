"""Relative paths in a configuration file are relative to that file's folder.

Under systemd the working folder is `/`; an admin who writes `pickup_dir = "outbox"`
beside `/etc/maildesk/maildesk.toml` means a folder there, not `/outbox`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Keys holding a file or folder: relative values are relative to the configuration file.
PATH_KEYS = {
    "outbound": ("pickup_dir", "ca_file", "password_file"),
    "templates": ("directory",),
    "logging": ("file",),
}
IMAP_PATH_KEYS = ("password_file", "oauth2_token_file")


def resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """The mapping with every relative path made absolute against `base` (the folder of
    the configuration file), so the daemon finds the same files from any working folder."""
    data = dict(data)

    def absolute(table: Any, keys: tuple[str, ...]) -> Any:
        if not isinstance(table, dict):
            return table  # the section reader reports it
        table = dict(table)
        for key in keys:
            value = table.get(key)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                table[key] = str(base / value)
        return table

    for section, keys in PATH_KEYS.items():
        if section in data:
            data[section] = absolute(data[section], keys)
    if isinstance(data.get("imap"), list):
        data["imap"] = [absolute(item, IMAP_PATH_KEYS) for item in data["imap"]]
    database = data.get("database")
    if isinstance(database, dict) and isinstance(database.get("url"), str):
        url = database["url"]
        path = url.removeprefix("sqlite:///")
        relative = path and path != ":memory:" and not path.startswith(("/", "file:"))
        if url.startswith("sqlite:///") and relative:
            data["database"] = {**database, "url": f"sqlite:///{base / path}"}
    return data
