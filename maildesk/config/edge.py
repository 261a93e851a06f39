"""Settings of the desk's edge: which clients are its own MTA (`[smtp] trusted_relays`)
and which spam-verdict headers that MTA writes (`[processing] spam_headers`).

Only the parsing and validation of these values live here; maildesk/inbound/relays.py
and maildesk/inbound/spam.py use them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from maildesk.config.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Every spam header maildesk can read (lower-cased -> the canonical spelling).
SPAM_HEADER_NAMES = {
    "x-spam-flag": "X-Spam-Flag",
    "x-spam-status": "X-Spam-Status",
    "x-spam": "X-Spam",
    "x-rspamd-action": "X-Rspamd-Action",
    "x-spamd-result": "X-Spamd-Result",
}
DEFAULT_SPAM_HEADERS = tuple(SPAM_HEADER_NAMES.values())


def network(text: str) -> Network:
    """An address (`192.0.2.7`, `::1`) or a network (`10.1.0.0/16`); ValueError otherwise.

    Host bits are ignored (`10.1.2.3/16` is `10.1.0.0/16`), as an admin who writes the
    relay's address with its prefix length means its network."""
    return ipaddress.ip_network(text.strip(), strict=False)


def _networks(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: must be an array of addresses or networks (e.g. 10.1.0.0/16)")
    found = []
    for i, text in enumerate(value):
        try:
            found.append(str(network(text)))
        except ValueError:
            raise ConfigError(
                f"{key}[{i}]: {text!r} is not an IP address or network "
                "(e.g. 192.0.2.7, 10.1.0.0/16, ::1)"
            ) from None
    return tuple(found)


def _spam_headers(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: must be an array of header names")
    names = []
    for i, text in enumerate(value):
        canonical = SPAM_HEADER_NAMES.get(text.strip().lower())
        if canonical is None:
            raise ConfigError(
                f"{key}[{i}]: {text!r} is not a spam header maildesk can read "
                f"(allowed: {', '.join(SPAM_HEADER_NAMES.values())})"
            )
        names.append(canonical)
    return tuple(dict.fromkeys(names))
