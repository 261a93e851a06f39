"""What an attachment really is, and HTML made safe to keep and show.

The first bytes of a payload decide its type when they contradict the declared one (a
program sent as `invoice.pdf` is listed as a program), and HTML bodies keep no script, no
remote image and no event handler. Pure functions over bytes and text.
"""

from __future__ import annotations

import re

import nh3

# (first bytes, offset, type, family): what the content is, whatever the mail declared.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "image"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "image"),
    (b"GIF87a", 0, "image/gif", "image"),
    (b"GIF89a", 0, "image/gif", "image"),
    (b"WEBP", 8, "image/webp", "image"),
    (b"II*\x00", 0, "image/tiff", "image"),
    (b"MM\x00*", 0, "image/tiff", "image"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
    (b"PK\x03\x04", 0, "application/zip", "archive"),
    (b"PK\x05\x06", 0, "application/zip", "archive"),
    (b"\x1f\x8b", 0, "application/gzip", "archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed", "archive"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar", "archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "application/x-ole-storage", "document"),
    (b"\x7fELF", 0, "application/x-executable", "executable"),
    (b"\xfe\xed\xfa\xce", 0, "application/x-mach-binary", "executable"),
    (b"\xfe\xed\xfa\xcf", 0, "application/x-mach-binary", "executable"),
    (b"\xce\xfa\xed\xfe", 0, "application/x-mach-binary", "executable"),
    (b"\xcf\xfa\xed\xfe", 0, "application/x-mach-binary", "executable"),
)
PE_TYPE = "application/vnd.microsoft.portable-executable"
_FAMILY = {sniffed: family for _, _, sniffed, family in _SIGNATURES} | {PE_TYPE: "executable"}
# Declared types a viewer renders or plays inline: the bytes must agree with them.
_INLINE = ("image/", "text/", "audio/", "video/", "application/pdf")
_GENERIC = ("", "application/octet-stream", "application/unknown", "binary/octet-stream")


def sniff_type(payload: bytes) -> str:
    """The type the first bytes show, or "" when they match no known signature."""
    for magic, offset, kind, _ in _SIGNATURES:
        if payload[offset : offset + len(magic)] == magic:
            return kind
    # "MZ" starts every DOS/Windows executable; its header always holds NUL bytes, which
    # a text that happens to start with "MZ" never does.
    if payload[:2] == b"MZ" and b"\x00" in payload[2:64]:
        return PE_TYPE
    return ""


def is_executable(content_type: str) -> bool:
    """A program, by the type presented for it (`presented_type` shows executables as such)."""
    return _FAMILY.get(content_type.lower()) == "executable"


def presented_type(declared: str, sniffed: str) -> str:
    """The type staff are shown: an executable always as one, a generic declaration as
    what the bytes are, and an inline type (image, text, PDF, …) only when the bytes agree
    with it. Other disagreements (a .docx is a ZIP) keep the declared type."""
    declared = declared.lower()
    if not sniffed or sniffed == declared:
        return declared
    if _FAMILY[sniffed] == "executable" or declared in _GENERIC:
        return sniffed
    if declared.startswith(_INLINE) and _family_of(declared) != _FAMILY[sniffed]:
        return sniffed
    return declared


def _family_of(declared: str) -> str:
    if declared.startswith("image/"):
        return "image"
    return "pdf" if declared == "application/pdf" else declared


def sanitise_html(html: str) -> str:
    """HTML safe to show a consultant: no scripts, handlers, styles or remote content."""
    return nh3.clean(
        html, url_schemes={"http", "https", "mailto", "cid"}, attribute_filter=_no_remote_images
    )


def _no_remote_images(element: str, attribute: str, value: str) -> str | None:
    """Images only from the mail itself (`cid:`): a remote one is a tracking pixel."""
    if element == "img" and attribute in ("src", "srcset") and not value.startswith("cid:"):
        return None
    return value


def html_text(html: str) -> str:
    """Plain text of an HTML body (for HTML-only mail): tags dropped, entities decoded."""
    import html as html_module

    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>", "\n", html)
    text = html_module.unescape(nh3.clean(spaced, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
