"""Build test messages by hand, the way mail clients write them."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime


def message(
    subject: str = "Erreur lors de la transmission SwissDec pour M. Dupont",
    body: str = "Bonjour,\n\nla transmission échoue.\n",
    sender: str = "Alice Martin <alice@acme.ch>",
    to: str = "support@help.example",
    message_id: str | None = "<req-1@acme.ch>",
    in_reply_to: str | None = None,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()
