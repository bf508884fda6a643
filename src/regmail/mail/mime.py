"""The wire form of one shape of message: multipart/alternative, UTF-8 text + HTML.

The stdlib email package builds the same bytes, but its generator walks, folds and
re-encodes every part, and that was 35 % of a worker's CPU time (bench/README.md).
Activation mail has one fixed shape, so the bytes are written here directly; the email
package still parses them in the tests (tests/unit/test_mime.py).
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from email.header import Header

CRLF = "\r\n"
LINE = 76  # base64 characters a line at most (RFC 2045)


def encode_header_text(name: str, value: str) -> str:
    """An unstructured header value (Subject) in RFC 2047 form when it is not ASCII."""
    refuse_line_breaks(value)
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep=CRLF)


def refuse_line_breaks(value: str) -> None:
    """A line break in a header value would start a header of the attacker's choosing."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"line break in a header value: {value!r}")


def alternative(headers: Sequence[tuple[str, str]], text: str, html: str) -> bytes:
    """Header lines (values already encoded, ASCII) and the two bodies, CRLF line ends."""
    boundary = f"=_regmail_{secrets.token_hex(16)}"
    lines = []
    for name, value in headers:
        refuse_line_breaks(value.replace(CRLF + " ", " "))  # folding is the one line break
        if not value.isascii():
            raise ValueError(f"{name} must be ASCII once encoded: {value!r}")
        lines.append(f"{name}: {value}")
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative;",
        f' boundary="{boundary}"',
        "",
        f"--{boundary}",
        _part("text/plain", text),
        f"--{boundary}",
        _part("text/html", html),
        f"--{boundary}--",
        "",
    ]
    return CRLF.join(lines).encode("ascii")


def _part(content_type: str, body: str) -> str:
    # base64 keeps every line short and 7-bit whatever the language of the body.
    return (
        f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{_base64_lines(body.encode('utf-8'))}"
    )


def _base64_lines(data: bytes) -> str:
    """base64 in lines of 76 (RFC 2045), CRLF between them: encoded at once and cut, where
    base64.encodebytes encodes each 57-byte piece by a call of its own."""
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    return CRLF.join([encoded[i : i + LINE] for i in range(0, len(encoded), LINE)])
