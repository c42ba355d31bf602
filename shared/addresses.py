"""Email address normalisation and the suppression hash: one rule for every service."""

from __future__ import annotations

import hashlib
import hmac
import re

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


def domain_of(address: str) -> str:
    """The domain of an address: after its last @, lower-cased (SQL: shared.lifecycle.domains.DOMAIN_OF)."""
    return address.rsplit("@", 1)[-1].lower()


def email_hash(address: str, key: bytes) -> bytes:
    """HMAC-SHA256 of the lower-cased address under SUPPRESSION_HASH_KEY (SQL's
    outreach_email_hash(email, key)): a leaked suppression list cannot be reversed by
    hashing a list of guessed addresses, as a bare hash could."""
    return hmac.digest(key, address.lower().encode("utf-8"), "sha256")


def legacy_email_hash(address: str) -> bytes:
    """The bare sha256 of before migration 0016, still held by `legacy_suppressions`."""
    return hashlib.sha256(address.lower().encode("utf-8")).digest()


KEY_FINGERPRINT_TEXT = b"outreach suppression key fingerprint v1"


def key_fingerprint(key: bytes) -> bytes:
    """What `suppression_key` stores to recognise the key: an HMAC of a fixed text, not the key."""
    return hmac.digest(key, KEY_FINGERPRINT_TEXT, "sha256")


# Something@something (or %40, URL-encoded), delimited the way addresses are quoted in
# SMTP answers, headers and links. Migration 0015 does the same in SQL (ADDRESS_IN_TEXT_SQL;
# tests/integration/test_redaction.py checks that both agree).
ADDRESS_IN_TEXT = re.compile(r"[^\s<>()\[\]\"',;:@=&?/]+(?:@|%40)[^\s<>()\[\]\"',;:@=&?/]+")
ADDRESS_IN_TEXT_SQL = "[^][:space:]<>()\"',;:@=&?/[]+(@|%40)[^][:space:]<>()\"',;:@=&?/[]+"
REDACTED_ADDRESS = "<address>"


def redact_addresses(text: str, keep: tuple[str, ...] = ()) -> str:
    """`text` with every email address in it replaced by <address> (but those in `keep`)."""
    kept = {k.lower() for k in keep}
    return ADDRESS_IN_TEXT.sub(lambda m: m[0] if m[0].lower() in kept else REDACTED_ADDRESS, text)


def mask_email(address: str) -> str:
    """j***@e***.com: enough for its owner to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***{dot}{tld}" if name else f"{tld[:1]}***"
    return f"{local[:1]}***@{masked_domain}"
