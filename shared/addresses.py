"""Email address normalisation and the suppression hash: one rule for every service."""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

from shared.header_safety import breaks_header

MAX_ADDRESS_LENGTH = 254  # RFC 5321 forward-path limit, minus the angle brackets


class InvalidAddress(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """The stored form of an address: trimmed, syntax-checked, domain lower-cased (IDNA).

    The local part keeps its case (RFC 5321 says it may matter); uniqueness and
    suppression compare case-insensitively through `email_hash`. No DNS lookups.
    """
    if not isinstance(raw, str):
        raise InvalidAddress("the address must be a string")
    candidate = raw.strip()
    if breaks_header(candidate):
        raise InvalidAddress("the address contains a control character or a line break")
    if not candidate:
        raise InvalidAddress("the address is empty")
    try:
        valid = validate_email(candidate, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    address = f"{valid.local_part}@{valid.ascii_domain or valid.domain}".strip()
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"the address is longer than {MAX_ADDRESS_LENGTH} characters")
    return address


def email_hash(address: str) -> bytes:
    """sha256 of the lower-cased address; equals SQL's outreach_email_hash(email)."""
    return hashlib.sha256(address.lower().encode("utf-8")).digest()


def mask_email(address: str) -> str:
    """j***@e***.com: enough for its owner to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***{dot}{tld}" if name else f"{tld[:1]}***"
    return f"{local[:1]}***@{masked_domain}"
