"""The `mime_limits` guard: what the MIME parser would build, counted before it runs.

The stdlib parser needs seconds for 50,000 parts, recurses once per nesting level and
parses Content-Type parameters in quadratic time (gh-136063), so a MIME bomb must be
refused before it reaches the parser. Counting bytes was not enough: counting `;` took
`Content-Type: text/plain;;;;;;` (an ordinary mail whose program writes empty parameters)
for a parameter flood and quarantined real mail. So each limit here counts what the
parser would actually build from the bytes:

- header fields: the field lines of the top-level header block, which ends where the
  parser ends it (the first blank line, or the first line that is no header line);
- MIME parts: delimiter lines (`--boundary`) of a boundary the message declares;
- nesting: boundaries open at the same time (a sibling part does not nest deeper);
- attachments: `Content-Disposition: attachment` fields;
- Content-Type (and Content-Disposition) parameters: non-empty parameters, split the way
  the parser splits them (a `;` inside a quoted string splits nothing); an empty one, or
  one of only whitespace or comments, counts for nothing, and the sections of an RFC 2231
  parameter split in parts (`filename*1*=`) count as that one parameter.

The parameter parser's cost is a separate budget (`MAX_PARAMETER_WORK`): it copies the
rest of the header once per `;`, empty or not.

Pure: bytes and limits in, a refusal reason (or None) out. The limits come from the
`[processing]` section of the configuration and are passed in; nothing here is global.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MimeLimits:
    """The most of each thing a message may have before the parser runs (refused above)."""

    header_fields: int = 1000
    parts: int = 1000
    depth: int = 50
    attachments: int = 200
    parameters: int = 100

    @classmethod
    def of(cls, processing: object) -> MimeLimits:
        """The limits set in the `[processing]` section (`config.ProcessingConfig`)."""
        return cls(
            header_fields=processing.max_header_fields,  # type: ignore[attr-defined]
            parts=processing.max_mime_parts,  # type: ignore[attr-defined]
            depth=processing.max_mime_depth,  # type: ignore[attr-defined]
            attachments=processing.max_attachments,  # type: ignore[attr-defined]
            parameters=processing.max_content_type_parameters,  # type: ignore[attr-defined]
        )


# The parameter parser copies the rest of the header once per `;`: its cost grows with
# separators × header length. ~25 ms of work, summed over the message; a 10,000-character
# RFC 2231 file name (1,000 continuation sections) needs a sixth of it. It counts every
# `;`, empty parameters too: the copying is done for each of them.
MAX_PARAMETER_WORK = 500_000_000

# A header block as the parser reads it: field lines, continuation lines and a leading
# `From ` line, up to the first line that is none of them (the blank line, or a body
# line that lost its separator). Lines end in CRLF, LF or CR, as for the parser.
_HEADER_BLOCK_RE = re.compile(rb"(?:(?:From |[!-9;-~]*:|[ \t])[^\r\n]*(?:\r\n|\n|\r|\Z))*")
# A CR that ends a line by itself (the parser takes it for a line end): made a LF before
# the scans below, which look for a line start as "\n" (a literal prefix: fast).
_BARE_CR_RE = re.compile(rb"\r(?!\n)")
# A field line: a name, then `:` (a line of only `:` has no name and builds no field).
_FIELD_RE = re.compile(rb"\n[!-9;-~]+:")
# These run on the lower-cased copy (see exceeded).
_ATTACHMENT_RE = re.compile(rb"\ncontent-disposition:\s*attachment")
_CTYPE_LINE_RE = re.compile(rb"\ncontent-(?:type|disposition):[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
# A boundary as declared, quoted or not; one in an RFC 2231 form (`boundary*=`, found in
# the lower-cased copy) is left to the parser to decode (see declared_boundaries). Only
# run where a count says a limit may be passed: case-insensitive, it is slow on 20 MB.
_BOUNDARY_RE = re.compile(rb'(?i)boundary\s*=\s*"?([^";\r\n]+)')
_RFC2231_BOUNDARY = b"boundary*"
# A line that may be a delimiter: `--` at the start of a line, then the rest of the line.
_DASH_LINE_RE = re.compile(rb"\n--([^\r\n]*)")
# The start of each parameter that is not empty or only whitespace: the `;` before it.
_FILLED_RE = re.compile(rb";[ \t\r\n]*[^; \t\r\n]")
# A parameter of only comments (not nested) and whitespace.
_COMMENTS_RE = re.compile(rb"[ \t\r\n]*(?:\([^()]*\)[ \t\r\n]*)+")
# An RFC 2231 continuation section after the first (`filename*1*=`): part of one parameter.
_CONTINUATION_RE = re.compile(rb"[ \t\r\n]*[^;=\s*]+\*0*[1-9][0-9]*\*?\s*=")


def exceeded(raw: bytes, limits: MimeLimits) -> str | None:
    """Why `raw` is beyond `limits` ("more than 100 Content-Type parameters"), or None.

    Plain substring counts on one lower-cased copy first; the exact counts (regular
    expressions, a walk over the delimiter lines) only run where a plain count says a
    limit may be passed, so an ordinary 20 MB mail costs a few scans."""
    if header_fields(raw) > limits.header_fields:
        return f"more than {limits.header_fields} header fields"
    if _BARE_CR_RE.search(raw):
        raw = _BARE_CR_RE.sub(b"\n", raw)
    raw = b"\n" + raw  # every line, the first too, starts after a "\n"
    low = raw.lower()
    dash_lines = low.count(b"\n--")  # at least every delimiter line
    if dash_lines > limits.parts:
        boundaries = declared_boundaries(raw, low)
        if mime_parts(raw, boundaries, stop_above=limits.parts) > limits.parts:
            return f"more than {limits.parts} MIME parts"
    if (
        low.count(b"\ncontent-disposition:") > limits.attachments
        and len(_ATTACHMENT_RE.findall(low)) > limits.attachments
    ):
        return f"more than {limits.attachments} attachments"
    if low.count(b"boundary") > limits.depth:
        boundaries = declared_boundaries(raw, low)
        if (boundaries is None or len(boundaries) > limits.depth) and nesting(
            raw, boundaries
        ) > limits.depth:
            return f"MIME nesting deeper than {limits.depth}"
    return _parameters_exceeded(_CTYPE_LINE_RE.findall(low), limits.parameters)


def header_fields(raw: bytes) -> int:
    """Fields of the top-level header block, as the parser builds them."""
    block = _HEADER_BLOCK_RE.match(raw)
    if not block:
        return 0
    return len(_FIELD_RE.findall(b"\n" + _BARE_CR_RE.sub(b"\n", block.group())))


def declared_boundaries(raw: bytes, low: bytes) -> set[bytes] | None:
    """Every boundary the message declares (anywhere: a part's header is in the body);
    None when one is written the RFC 2231 way, which only the parser decodes: then every
    line starting with `--` is taken for a delimiter. `low` is `raw` lower-cased."""
    if _RFC2231_BOUNDARY in low:
        return None
    return {b.rstrip(b" \t") for b in _BOUNDARY_RE.findall(raw)} - {b""}


def _delimiters(raw: bytes, boundaries: set[bytes] | None):
    """(boundary, closing) of each delimiter line, in order: `--B` opens a part of B's
    multipart, `--B--` closes it; trailing whitespace is allowed, as by the parser. Lines
    start after a "\n" (`raw` starts with one; bare CRs are LFs by now)."""
    for match in _DASH_LINE_RE.finditer(raw):
        rest = match.group(1).rstrip(b" \t")
        if boundaries is None or rest in boundaries:
            yield rest, False
        elif rest.endswith(b"--") and rest[:-2] in boundaries:
            yield rest[:-2], True


def mime_parts(raw: bytes, boundaries: set[bytes] | None, stop_above: int | None = None) -> int:
    """Parts the parser would build: one per opening delimiter line of a declared boundary
    (a part without a Content-Type is a part too; a Content-Type line in a text is not).
    `raw` as `exceeded` reads it: starting with "\n", bare CRs made LFs. Counting stops
    once above `stop_above`."""
    count = 0
    for _, closing in _delimiters(raw, boundaries):
        count += not closing
        if stop_above is not None and count > stop_above:
            break
    return count


def nesting(raw: bytes, boundaries: set[bytes] | None) -> int:
    """The most boundaries open at once: a boundary is open from its first delimiter line
    to its closing one (or the end of the message, never closed). Nested multiparts are
    open together; sibling ones (a digest of forwarded mails) one after the other. `raw`
    as for `mime_parts`."""
    opened: dict[bytes, int] = {}
    closed: dict[bytes, int] = {}
    for index, (boundary, closing) in enumerate(_delimiters(raw, boundaries)):
        if closing:
            if boundary in opened:
                closed[boundary] = index
        else:
            opened.setdefault(boundary, index)
            closed.pop(boundary, None)  # a later part: open again until closed again
    events = sorted(
        [(at, 1) for at in opened.values()]
        + [(closed.get(b, len(raw)), -1) for b in opened]  # never closed: open to the end
    )
    depth = deepest = 0
    for _, step in events:
        depth += step
        deepest = max(deepest, depth)
    return deepest


def parameters(value: bytes, stop_above: int | None = None) -> int:
    """Parameters of one header value (`text/plain; charset=x`, without the field name) as
    the parser builds them, leaving out empty ones (`;;`), those of only whitespace or
    comments, and the continuation sections of an RFC 2231 parameter.

    The parser ends a parameter at a `;` only when the quotes before it are balanced (a
    `"` not escaped by `\\`): inside a quoted string a `;` splits nothing. Counting stops
    once above `stop_above`."""
    first = value.find(b";")
    if first < 0:
        return 0
    quoted = _quotes(value[:first]) % 2 == 1  # the type itself may open a quoted string
    count = 0
    for match in _FILLED_RE.finditer(value, first):
        start = match.start() + 1
        end = value.find(b";", start)
        piece = value[start:] if end < 0 else value[start:end]
        if quoted:  # inside the quoted string of the parameter before: part of it
            quoted = _quotes(piece) % 2 == 0  # an odd number of quotes here closes it
            continue
        quoted = _quotes(piece) % 2 == 1
        if quoted or not (_COMMENTS_RE.fullmatch(piece) or _CONTINUATION_RE.match(piece)):
            count += 1
            if stop_above is not None and count > stop_above:
                break
    return count


def _quotes(piece: bytes) -> int:
    """Quote characters as the parser counts them: `"` not preceded by a backslash."""
    return piece.count(b'"') - piece.count(b'\\"')


def _parameters_exceeded(lines: list[bytes], limit: int) -> str | None:
    work = 0
    for line in lines:
        separators = line.count(b";")
        value = line.partition(b":")[2]
        if separators > limit and parameters(value, stop_above=limit) > limit:
            return f"more than {limit} Content-Type parameters"
        work += separators * len(line)
        if work > MAX_PARAMETER_WORK:
            return "Content-Type parameters too long to parse"
    return None
