"""Keep only what a person newly wrote in an email reply, so that it can be relayed to a customer.

Quoted history, reply headers of common mail clients and trailing signatures are removed; text is
never added or rewritten, and when in doubt quoted content is dropped rather than relayed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Lines longer than this are body text, never a header; the bound also keeps matching linear.
_MAX_HEADER_CHARS = 1000

_QUOTE = re.compile(r"^\s*>")
_RULE = re.compile(r"^[\s_\-=*]*$")  # blank or a drawn separator left just above a header
_UNDERSCORES = re.compile(r"^\s*_{30,}\s*$")
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|original-nachricht|originalnachricht"
    r"|ursprüngliche nachricht|message d'origine|message original|oprindelig meddelelse"
    r"|oorspronkelijk bericht|ursprungligt meddelande|mensaje original|messaggio originale)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|message transféré|weitergeleitete nachricht"
    r"|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht)\s*-{2,}"
    r"|begin forwarded message\s?:|début du message réexpédié\s?:"
    r"|anfang der weitergeleiteten nachricht\s?:)\s*$",
    re.IGNORECASE,
)
_FIELD = re.compile(r"^\s*\*?([^\W\d_][^\W\d]*(?:[ -][^\W\d_]+)?)\s*\*?\s*:")
# fmt: off
_FIRST_FIELDS = frozenset({
    "from", "de", "von", "van", "fra", "från", "od", "da", "от", "date", "datum", "data",
    "дата", "sent", "envoyé", "gesendet", "verzonden", "sendt", "skickat", "wysłano",
    "inviato", "enviado", "отправлено"
})
_FIELDS = _FIRST_FIELDS | frozenset({
    "to", "cc", "bcc", "subject", "reply-to", "à", "a", "objet", "an", "betreff", "aan",
    "onderwerp", "til", "emne", "till", "ämne", "do", "temat", "dw", "kopia", "oggetto",
    "para", "asunto", "кому", "тема", "копия", "kopie"
})
# fmt: on
_OPENER = r"(?:on|le|am|op|el|il|em|den|på|w dniu|dnia|vào|dne|pada)"
_VERB = (
    r"(?:wrote|a écrit|schrieb|schreef|geschreven|escribió|ha scritto|scrisse|escreveu|skrev"
    r"|napisał\w*|написал\w*|đã viết|kirjoitti|napsal)"
)
_OPENS = re.compile(rf"^[\s\-]*{_OPENER}\s", re.IGNORECASE)
_ENDS = re.compile(rf"(?:\b{_VERB}(?:\b.*:|[\s\-]*)|\bsent\s*:)\s*$", re.IGNORECASE)
_DASHED = re.compile(rf"^\s*-{{2,}}\s*\S.*\b{_VERB}\s*-{{2,}}\s*$", re.IGNORECASE)
_VERB_ANYWHERE = re.compile(rf"\b{_VERB}\b", re.IGNORECASE)
_ADDRESS = re.compile(r"[<(\[]\s*(?:mailto:)?[^\s<>()\[\]@]+@[^\s<>()\[\]]+\s*[>)\]]")
_DATE_FIRST = re.compile(r"^\s*\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b")
_SHARED = re.compile(rf"^(?P<keep>.*?\S)\s*-{{2,}}\s*{_OPENER}\s", re.IGNORECASE)
_MOBILE = re.compile(
    r"^\s*(?:sent from my|sent from (?:mail|outlook|yahoo mail|samsung)|envoyé de mon"
    r"|envoyé depuis mon|envoyé à partir de|von meinem|gesendet von meinem|gesendet von mail"
    r"|get outlook for|obtenir outlook pour|outlook für)\b[^,;:!?<>]{0,60}"
    r"(?:<https?://[^\s>]*>)?\s*$",
    re.IGNORECASE,
)


def strip_reply(text: str) -> str:
    """Return only the newly written part of a plain-text reply, trailing whitespace trimmed."""
    if not isinstance(text, str):
        return ""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept = _drop_signature(_drop_quoted(lines))
    out: list[str] = []
    for line in kept:
        if line or (out and out[-1]):  # leading and repeated blank lines carry nothing
            out.append(line)
    return "\n".join(out).rstrip()


def _drop_quoted(lines: list[str]) -> list[str]:
    kept: list[str] = []
    forward_until, i = -1, 0
    while i < len(lines):
        line = lines[i]
        if _FORWARD.match(line):
            # The header block of a deliberately forwarded message is content, not history.
            forward_until = i + 8
        elif _is_cut(lines, i, allow_block=i > forward_until):
            _trim_rules(kept)
            return kept
        else:
            end = _attribution_end(lines, i)
            shared = _SHARED.match(line) if end is None and "--" in line else None
            if shared and _attribution_end([line[shared.end("keep") :]], 0) is not None:
                kept.append(shared.group("keep"))
                end = i + 1
            if end is not None:
                j = _skip_blank(lines, end)
                if j >= len(lines) or not _QUOTE.match(lines[j]):
                    _trim_rules(kept)  # unquoted history follows its header: all of it goes
                    return kept
                i = _after_quote(lines, j, kept)
                continue
            if _QUOTE.match(line) and not _isolated(lines, i):
                _drop_unknown_header(kept)
                i = _after_quote(lines, i, kept)
                continue
        kept.append(line)
        i += 1
    return kept


def _is_cut(lines: list[str], i: int, *, allow_block: bool) -> bool:
    """True where everything from line i on is an Outlook/webmail style copy of history."""
    line = lines[i]
    if len(line) > _MAX_HEADER_CHARS:
        return False
    if _ORIGINAL.match(line):
        return True
    if _UNDERSCORES.match(line):
        j = _skip_blank(lines, i + 1)
        return j < len(lines) and bool(_FIELD.match(lines[j]))
    return allow_block and _is_field_block(lines, i)


def _is_field_block(lines: list[str], i: int) -> bool:
    if _field_name(lines[i]) not in _FIRST_FIELDS:
        return False
    for k in range(i + 1, min(i + 6, len(lines))):
        if not lines[k].strip():
            return False
        if _field_name(lines[k]) in _FIELDS:
            return True
    return False


def _field_name(line: str) -> str:
    match = _FIELD.match(line) if len(line) <= _MAX_HEADER_CHARS else None
    return match.group(1).lower() if match else ""


def _attribution_end(lines: list[str], i: int) -> int | None:
    """End (exclusive) of an "On … wrote:" style header starting at line i, if there is one."""
    first = lines[i]
    if not first.strip() or _QUOTE.match(first) or len(first) > _MAX_HEADER_CHARS:
        return None
    if _DASHED.match(first):
        return i + 1
    opens = bool(_OPENS.match(first))
    # Other clients put the date first: a header spread over lines starts on a dated line.
    span = 6 if opens else (3 if re.search(r"\d", first) else 1)
    joined = ""
    for k in range(i, min(i + span, len(lines))):
        if not _continues_header(lines[k], joined, opens=opens, first=k == i):
            break
        joined = f"{joined} {lines[k].strip()}".strip()
        if opens and _ENDS.search(joined) and re.search(r"\d", joined):
            return _header_tail(lines, k + 1)
        if _generic_attribution(joined):
            return k + 1
    return None


def _continues_header(line: str, joined: str, *, opens: bool, first: bool) -> bool:
    if len(line) > _MAX_HEADER_CHARS:
        return False
    if not first and (_OPENS.match(line) or (not opens and _QUOTE.match(line))):
        return False  # a header of its own, or the quotation itself, starts here
    # A blank line after a finished sentence ends a paragraph, not a wrapped header.
    return bool(line.strip()) or (opens and not joined.endswith((".", "!", "?")))


def _generic_attribution(joined: str) -> bool:
    # Clients in other languages: a date and the quoted author's address, ending with ":".
    if not _ADDRESS.search(joined):
        return False
    if _DATE_FIRST.match(joined):
        return True
    has_date = bool(re.search(r"\d", joined))
    return joined.endswith(":") and (has_date or bool(_VERB_ANYWHERE.search(joined)))


def _header_tail(lines: list[str], end: int) -> int:
    # "schrieb John Doe <" may continue with "john@example.com>:" on the next line.
    if end < len(lines) and lines[end].strip().endswith(":") and "@" in lines[end]:
        return end + 1
    return end


def _after_quote(lines: list[str], j: int, kept: list[str]) -> int:
    """Skip the quoted block at j (and blank lines after it); return where new text resumes."""
    had_blank = _trim_rules(kept)
    if had_blank and kept:
        kept.append("")
    k = j
    while k < len(lines):
        if _QUOTE.match(lines[k]) or not lines[k].strip():
            k += 1
            continue
        end = k
        while end < len(lines) and lines[end].strip() and not _QUOTE.match(lines[end]):
            end += 1
        # Text glued between quoted lines is a wrapped quoted line (a long link), not an answer.
        if not (_QUOTE.match(lines[k - 1]) and end < len(lines) and _QUOTE.match(lines[end])):
            break
        k = end
    return k


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _isolated(lines: list[str], i: int) -> bool:
    # A lone ">" line inside a paragraph (">>> link <<<") is decoration, not a quotation.
    before = lines[i - 1] if i > 0 else ""
    after = lines[i + 1] if i + 1 < len(lines) else ""
    return all(s.strip() and not _QUOTE.match(s) for s in (before, after))


def _drop_unknown_header(kept: list[str]) -> None:
    # An unrecognised attribution line still names the quoted author: it goes with the quote.
    last = len(kept) - 1
    while last >= 0 and not kept[last].strip():
        last -= 1
    if last >= 0 and kept[last].endswith(":") and re.search(r"[\d@]", kept[last]):
        del kept[last:]


def _trim_rules(kept: list[str]) -> bool:
    """Drop trailing blank and separator lines; tell whether a blank line was among them."""
    had_blank = False
    while kept and _RULE.match(kept[-1]):
        had_blank = had_blank or not kept[-1].strip()
        kept.pop()
    return had_blank


def _drop_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if line == "--":  # RFC 3676 "-- " once trailing spaces are trimmed
            lines = lines[:index]
            break
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and len(lines[-1]) <= 120 and _MOBILE.match(lines[-1]):
        lines = lines[:-1]
    return lines


# --- HTML -------------------------------------------------------------------------------------

# fmt: off
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot", "thead",
    "tr", "ul"
})
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr"
})
# fmt: on
_HIDDEN = frozenset({"script", "style", "title", "template", "xml"})
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
_CUT_IDS = frozenset({"appendonsend", "divrplyfwdmsg", "olk_src_body_section", "stopspelling"})
# Outlook draws the rule above its header block in #B5C4DF (2007-2013) or #E1E1E1 (later).
_CUT_BORDERS = ("border-top:solid#e1e1e1", "border-top:solid#b5c4df")


class _TextCollector(HTMLParser):
    """Collects visible text, leaving out quote containers and all that follows a reply rule."""

    def __init__(self, *, mark_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._mark_quotes = mark_quotes
        self._stack: list[str] = []
        self._skip_from: int | None = None  # stack depth of the dropped or hidden element
        self._cut = False
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._cut or self._skip_from is not None:
            self._push(tag)
            return
        kind = _classify(tag, dict(attrs))
        if kind == "cut":
            self._cut = True
            return
        if tag in _BLOCKS:
            self._newline()
        if tag == "br":
            self.parts.append("\n")
        if kind == "drop" and self._mark_quotes:
            self.parts.append("\n\n>\n\n")  # lets strip_reply keep text written after a quote
        if tag == "pre":
            self._pre += 1
        if kind is not None or tag in _HIDDEN:
            self._skip_from = len(self._stack)
        self._push(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._stack:
            return
        while self._stack and self._stack.pop() != tag:
            pass
        if self._skip_from is not None and len(self._stack) <= self._skip_from:
            self._skip_from = None
        if tag in _BLOCKS:
            self._newline()
        elif tag == "td":
            self.parts.append(" ")
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._cut or self._skip_from is not None:
            return
        text = data if self._pre else re.sub(r"[ \t\n\r\f]+", " ", data)
        # Layout whitespace between blocks would otherwise open a blank line.
        if text.strip() or not self.parts or not self.parts[-1].endswith("\n"):
            self.parts.append(text)

    def _push(self, tag: str) -> None:
        if tag not in _VOID:
            self._stack.append(tag)

    def _newline(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")


def _classify(tag: str, attrs: dict[str, str | None]) -> str | None:
    """Whether an element starts the quoted history ("cut"), is a quote ("drop"), or neither."""
    ident = (attrs.get("id") or "").lower()
    style = re.sub(r"\s+", "", (attrs.get("style") or "").lower())
    if ident in _CUT_IDS or (tag == "div" and any(b in style for b in _CUT_BORDERS)):
        return "cut"
    classes = (attrs.get("class") or "").lower()
    if tag == "blockquote" or any(name in classes for name in _QUOTE_CLASSES):
        return "drop"
    return None


def _html_text(html: str, *, mark_quotes: bool) -> str:
    collector = _TextCollector(mark_quotes=mark_quotes)
    try:
        collector.feed(html if isinstance(html, str) else "")
        collector.close()
    except Exception:  # noqa: BLE001, S110 - malformed HTML: keep the text read so far
        pass
    lines = "".join(collector.parts).replace("\xa0", " ").split("\n")
    out: list[str] = []
    for line in (part.strip() for part in lines):
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).rstrip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one line per block, quote containers left out."""
    return _html_text(html, mark_quotes=False)


def strip_reply_html(html: str) -> str:
    """Return only the newly written part of an HTML-only reply, as plain text."""
    return strip_reply(_html_text(html, mark_quotes=True))
