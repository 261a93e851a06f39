"""Which connecting clients are the desk's own MTA: `[smtp] trusted_relays`.

A trusted relay (the company's Postfix, an Exchange connector) carries everyone's mail,
so its connections are not capped per client (the global cap still holds), and the
verdicts it writes into the mail (spam headers) are believed. Whether a mail came from
one is decided once, at intake, and stored with the spool row, so the pure pipeline reads
it as data. Kept apart from the listener so the pipeline and the configuration can use
it without the SMTP stack; only `ipaddress` is needed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from maildesk.config.edge import Network, network

__all__ = ["Network", "Origin", "TrustedRelays", "network"]


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # no IPv6 zone
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack listener sees ::ffff:10.0.0.5
    return address


class TrustedRelays:
    """Membership test of a client address in the configured networks."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(network(n) for n in networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def covers(self, host: str) -> bool:
        """Whether `host` (a client's IP address as text) is a trusted relay."""
        if not self.networks:
            return False
        address = _address(host)
        return address is not None and any(
            address.version == net.version and address in net for net in self.networks
        )


@dataclass(frozen=True)
class Origin:
    """How a mail reached us, kept with its spool row: the pipeline reads it as data."""

    peer: str | None = None  # the SMTP client's address
    relay_trusted: bool = False  # a `[smtp] trusted_relays` client (or `ingest --trusted-relay`)
    tls: str | None = None  # e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"; None: plain text

    def describe(self) -> str:
        """One line for the trace: client, trust, TLS."""
        who = f"client {self.peer}" if self.peer else "no SMTP client"
        trust = "trusted relay" if self.relay_trusted else "not a trusted relay"
        return f"{who} ({trust}); " + (f"TLS {self.tls}" if self.tls else "no TLS")
