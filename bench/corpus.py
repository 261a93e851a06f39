"""A deterministic corpus of support mail for the benchmarks: same seed, same bytes.

About 70% plain-text requests of 1-3 KB, 20% multipart/alternative with 10-15 KB of HTML,
10% with a 100-200 KB attachment, in French, German and English; 30% are replies (same
sender, In-Reply-To an earlier message). It only builds bytes; it never sends anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

SUPPORT = "support@example.com"
SEED = 8
START = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)

SUBJECTS = {
    "fr": [
        "Erreur lors de la transmission SwissDec pour M. Dupont",
        "Problème lors de la connexion initiale à ProConcept en client lourd",
        "Ajout d'une nouvelle variable salaire « Prime de Noël »",
        "Écart de TVA sur les factures débiteurs de février",
        "Impossible de générer les fiches de salaire du mois",
    ],
    "de": [
        "Fehler bei der SwissDec-Übermittlung für Frau Müller",
        "Lohnabrechnung März: Zulagen werden doppelt berechnet",
        "Patch 12.4.2 auf unserer Testumgebung einspielen",
        "Kreditorenzahlungen werden nicht exportiert (pain.001)",
        "Anmeldung im Rich-Client schlägt nach Update fehl",
    ],
    "en": [
        "Error during the SwissDec transmission for Mr Dupont",
        "Payroll run stops with a lock error on the March period",
        "Please deploy the 12.4.2 fix on our test installation",
        "Supplier payments are not exported to the bank file",
        "Flex balance: new salary variable for the Christmas bonus",
    ],
}
LABELS = {
    "fr": ("Version", "Société", "Contact", "Téléphone", "Bonjour", "Meilleures salutations"),
    "de": ("Version", "Firma", "Ansprechpartner", "Tel.", "Guten Tag", "Freundliche Grüsse"),
    "en": ("Version", "Company", "Contact", "Phone", "Hello", "Kind regards"),
}
PROSE = {
    "fr": "Depuis la mise à jour, le traitement s'interrompt à l'étape de validation et "
    "l'écran affiche un message d'erreur. Nous avons relancé le poste sans succès. ",
    "de": "Seit dem Update bricht die Verarbeitung beim Validierungsschritt ab und der "
    "Bildschirm zeigt eine Fehlermeldung. Ein Neustart hat nicht geholfen. ",
    "en": "Since the update, processing stops at the validation step and the screen shows "
    "an error message. Restarting the workstation did not help. ",
}
REPLY = {
    "fr": ("RE: ", "Merci, avez-vous des nouvelles à ce sujet ?", "a écrit :"),
    "de": ("AW: ", "Danke, gibt es dazu schon Neuigkeiten?", "schrieb:"),
    "en": ("RE: ", "Thanks, is there any news on this?", "wrote:"),
}
FIRST = ["Alice", "Bruno", "Chloé", "Dieter", "Elena", "François", "Jürg", "Léa", "Marc", "Sven"]
LAST = ["Dupont", "Müller", "Rochat", "Schmid", "Favre", "Keller", "Meier", "Brunner"]
COMPANIES = ["Acme SA", "Bäckerei Huber AG", "Helvetia Logistics", "Garage Rochat Sàrl"]


@dataclass(frozen=True)
class Mail:
    index: int
    sender: str
    message_id: str
    raw: bytes
    is_reply: bool  # replies open no ticket, so they are never acknowledged
    kind: str  # plain | html | attachment


def build(count: int, seed: int = SEED) -> list[Mail]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    originals: list[tuple[Mail, str, str, str]] = []  # mail, lang, subject, text
    per_sender: dict[str, int] = {}
    mails: list[Mail] = []
    for i in range(count):
        kind = rng.choices(("plain", "html", "attachment"), (70, 20, 10))[0]
        if originals and rng.random() < 0.30:
            earlier, lang, subject, text = rng.choice(originals)
            mail = _reply(rng, i, kind, earlier, lang, subject, text)
        else:
            lang = rng.choice(("fr", "de", "en"))
            sender = _sender(rng, i, per_sender)
            subject = rng.choice(SUBJECTS[lang])
            text = _request_text(rng, lang, sender)
            mail = _mail(rng, i, kind, sender, subject, text, lang, None)
            originals.append((mail, lang, subject, text))
        mails.append(mail)
    return mails


def _sender(rng: random.Random, i: int, per_sender: dict[str, int]) -> str:
    # At most two requests per address: maildesk sends at most auto_replies_per_hour
    # (default 5) acknowledgements to one address per hour, and every request must get one.
    n = i // 2 if rng.random() < 0.5 else i
    address = f"user{n}@c{n % 97}.example"
    if per_sender.get(address, 0) >= 2:
        address = f"user{i}x@c{i % 97}.example"
    per_sender[address] = per_sender.get(address, 0) + 1
    return address


def _request_text(rng: random.Random, lang: str, sender: str) -> str:
    version, company, contact, phone, hello, bye = LABELS[lang]
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    lines = [f"{hello},", ""]
    lines += [PROSE[lang] * rng.randint(2, 6), ""]
    fields = [
        (version, f"12.{rng.randint(0, 5)}.{rng.randint(0, 9)}"),
        (company, rng.choice(COMPANIES)),
        (contact, name),
        (phone, f"+41 {rng.randint(21, 79)} {rng.randint(100, 999)} 12 {rng.randint(10, 99)}"),
    ]
    lines += [f"{label} : {value}" for label, value in fields if rng.random() < 0.8]
    lines += ["", bye, name, sender]
    return "\n".join(lines)


def _reply(rng, i, kind, earlier: Mail, lang, subject, text) -> Mail:
    prefix, body, wrote = REPLY[lang]
    when = format_datetime(START)
    quoted = "\n".join("> " + line for line in text.splitlines())
    reply_text = f"{body}\n\n{when}, {earlier.sender} {wrote}\n{quoted}\n"
    return _mail(rng, i, kind, earlier.sender, prefix + subject, reply_text, lang, earlier)


def _mail(rng, i, kind, sender, subject, text, lang, parent: Mail | None) -> Mail:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject  # non-ASCII subjects go out RFC 2047-encoded
    msg["Date"] = format_datetime(START + timedelta(seconds=i))
    message_id = f"<bench-{i}-{rng.getrandbits(32):08x}@{sender.split('@')[1]}>"
    msg["Message-ID"] = message_id
    if parent is not None:
        msg["In-Reply-To"] = parent.message_id
        msg["References"] = parent.message_id
    msg["Content-Language"] = lang
    msg.set_content(text)
    if kind == "html":
        msg.add_alternative(_html(rng, text), subtype="html")
    elif kind == "attachment":
        size = rng.randint(100_000, 200_000)
        msg.add_attachment(
            rng.randbytes(size), maintype="application", subtype="pdf", filename=f"log-{i}.pdf"
        )
    return Mail(i, sender, message_id, msg.as_bytes(), parent is not None, kind)


def _html(rng: random.Random, text: str) -> str:
    target = rng.randint(10_000, 15_000)
    rows = []
    paragraphs = "".join(f"<p style='margin:0 0 8px'>{line}</p>" for line in text.splitlines())
    while len(paragraphs) + sum(map(len, rows)) < target - 200:
        rows.append(
            f"<tr><td style='padding:2px'>{rng.randint(1000, 9999)}</td>"
            f"<td style='padding:2px'>Pos. {rng.randint(1, 99)}</td></tr>"
        )
    return f"<html><body>{paragraphs}<table>{''.join(rows)}</table></body></html>"
