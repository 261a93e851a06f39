"""Our own Message-IDs: recognisable and unguessable, so replies find their ticket.

`<SUP-12.3k9f2a7q1c.h7d0a9e5b1c2f4d6@support.example.com>`: the ticket key, a random
nonce, and an HMAC of both under the instance secret. Only a mail we sent can carry a
valid one; who may write into the ticket it names is still decided by the threading
rule (`inbound/thread.py`), since our mail is forwarded and quoted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_RE = re.compile(r"^<([A-Z][A-Z0-9]{1,9}-\d{1,12})\.([a-z0-9]{10,32})\.([a-f0-9]{20})@[^<>\s]+>$")


class MessageIds:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def make(self, ticket_key: str, domain: str) -> str:
        nonce = secrets.token_hex(8)
        return f"<{ticket_key}.{nonce}.{self._sign(ticket_key, nonce)}@{domain}>"

    def ticket_key(self, message_id: str) -> str | None:
        """The ticket a Message-ID of ours names, or None when it is not (validly) ours."""
        match = _RE.match(message_id)
        if not match:
            return None
        key, nonce, sig = match.groups()
        return key if hmac.compare_digest(sig, self._sign(key, nonce)) else None

    def _sign(self, key: str, nonce: str) -> str:
        return hmac.new(self._key, f"{key}.{nonce}".encode(), hashlib.sha256).hexdigest()[:20]
