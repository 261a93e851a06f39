"""Raw 8-bit header bytes as text: UTF-8, else the declared charset, else windows-1252.

Mail programs still put unencoded 8-bit bytes in headers: webmails, phones and scripts
send UTF-8 (RFC 6532), older programs Latin-1 or windows-1252 without any RFC 2047
encoded word. The parser keeps those bytes as surrogate escapes; this module reads them
back the way a mail client would, so "Problème à la caisse" is stored, acknowledged and
logged as written instead of as "Probl��me":

1. valid UTF-8 is UTF-8 (a Latin-1 text is almost never valid UTF-8 by accident);
2. else the charset the message or the part declares, if it is a text charset that
   decodes the bytes without control characters (`iso-8859-1` and `us-ascii` are read
   as windows-1252, as every browser does: Outlook declares Latin-1 and writes "€" and
   "’" as 0x80 and 0x92);
3. else windows-1252, the encoding of nearly all remaining Western mail; the five bytes
   it leaves undefined become U+FFFD, so junk stays readable and never raises.

Pure: no I/O. Header-injection guards (one line, no encoded-word opener) still run on
the result in the callers.
"""

from __future__ import annotations

import codecs
import functools
import re

FALLBACK = "cp1252"
# Codecs that are not a charset a mail may declare for its text: escape codecs can turn
# plain bytes into any character (line breaks included), UTF-7 and punycode likewise.
_REFUSED = {
    "raw-unicode-escape",
    "unicode-escape",
    "utf-7",
    "punycode",
    "idna",
    "undefined",
    "charmap",
}
# Declared charsets a windows-1252 text is routinely labelled with (WHATWG Encoding).
_READ_AS_1252 = {"latin-1", "iso8859-1", "ascii", "cp1252"}


# What a wrong guess produces: C1 controls are what windows-1252 text read as ISO-8859-x
# gives ("–" as U+0096), and no mail writes a control character in a header on purpose.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def codec_of(declared: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it is unknown or refused."""
    if not declared or len(declared) > 40 or not declared.isascii():
        return None
    try:
        info = codecs.lookup(declared.strip().strip('"').lower())
    except (LookupError, ValueError):
        return None
    if info.name in _REFUSED or not _ascii_compatible(info.name):
        return None
    return FALLBACK if info.name in _READ_AS_1252 else info.name


@functools.lru_cache(maxsize=64)
def _ascii_compatible(codec: str) -> bool:
    """Whether `codec` reads printable ASCII as ASCII, as every charset a header's 8-bit
    text can be in must (the header's ASCII part is decoded with it). This refuses EBCDIC
    (byte 0x25 is a line feed there), UTF-16/32 and the binary codecs (base64, zlib)."""
    try:
        return _PRINTABLE_ASCII.decode(codec) == _PRINTABLE_ASCII.decode("ascii")
    except Exception:  # noqa: BLE001 - not a bytes-to-text codec at all
        return False


def decode_8bit(data: bytes, declared: str | None = None) -> str:
    """`data` as text: UTF-8 when valid, else the declared charset, else windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = codec_of(declared)
    if codec is not None and codec != FALLBACK:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError, TypeError):
            text = None
        if text is not None and not _CONTROLS.search(text):
            return text
    return data.decode(FALLBACK, errors="replace")


def raw_header_text(value: str, declared: str | None = None) -> str:
    """A header value as the parser kept it (8-bit bytes as surrogate escapes) as text."""
    if value.isascii():
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte could have produced
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return decode_8bit(data, declared)
