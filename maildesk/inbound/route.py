"""Which queue a message belongs to: the envelope recipient first, then the headers.

Mail piped in by an MTA or fetched from a mailbox may carry no envelope, so the To/Cc
and delivery headers are read next, and a source-specific default comes last.
"""

from __future__ import annotations

from maildesk.addresses import normalise_address
from maildesk.config import Config, Queue
from maildesk.inbound.parse import Parsed


def route(parsed: Parsed, rcpt_tos: tuple[str, ...], config: Config) -> tuple[Queue, str]:
    """Return the queue and how it was chosen (for the trace)."""
    for rcpt in rcpt_tos:
        queue = config.queue_for_address(normalise_address(rcpt) or "")
        if queue:
            return queue, f"envelope:{rcpt.lower()}"
    header_addrs = [a for _, a in parsed.to + parsed.cc]
    for name in ("delivered-to", "x-original-to"):
        if name in parsed.headers:
            header_addrs.insert(0, normalise_address(parsed.headers[name]) or "")
    for address in header_addrs:
        queue = config.queue_for_address(address)
        if queue:
            return queue, f"header:{address}"
    return config.default_queue, "default-queue"
