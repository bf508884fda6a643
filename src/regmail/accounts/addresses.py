"""Email addresses: syntax (RFC 5321 lengths, IDN domains), no DNS."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL_PART_LENGTH = 64  # RFC 5321 section 4.5.3.1.1


@dataclass(frozen=True)
class Address:
    """A validated address: `display` as the user knows it, `ascii` for SMTP (IDNA domain)."""

    display: str
    ascii: str

    @property
    def key(self) -> str:
        return self.display.lower()


# A request's address is parsed by its schema (api/schemas.py) and again by its route for
# the Address; the second parse costs 16 µs of a sign-up's CPU without this.
@lru_cache(maxsize=1024)
def parse_address(value: str) -> Address:
    """Raise ValueError (with a message for the user) unless `value` is a deliverable syntax."""
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"must be at most {MAX_ADDRESS_LENGTH} characters")
    try:
        # SMTPUTF8 (non-ASCII local parts) is refused: many providers cannot deliver it.
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    if len(result.local_part.encode()) > MAX_LOCAL_PART_LENGTH:
        raise ValueError(
            f"the part before the @ must be at most {MAX_LOCAL_PART_LENGTH} characters"
        )
    return Address(display=result.normalized, ascii=result.ascii_email or result.normalized)
