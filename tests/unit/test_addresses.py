from __future__ import annotations

import hashlib

import pytest

from shared.addresses import InvalidAddress, email_hash, mask_email, normalize_email

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Jane.Doe@Example.COM ", "Jane.Doe@example.com"),
        ("x@bücher.example", "x@xn--bcher-kva.example"),
        ("first+tag@sub.Example.org", "first+tag@sub.example.org"),
    ],
)
def test_addresses_are_trimmed_and_their_domain_lower_cased(raw, stored):
    assert normalize_email(raw) == stored


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "no-at-sign", "a@b@c.com", "a@example.com\r\nBcc: x@evil.com", "a@", "@example.com",
     "a" * 250 + "@example.com", "a@example..com"],
)  # fmt: skip
def test_invalid_addresses_are_refused_with_a_reason(raw):
    with pytest.raises(InvalidAddress) as raised:
        normalize_email(raw)
    assert str(raised.value)


def test_the_hash_ignores_case():
    key = b"k" * 32
    assert email_hash("Jane@Example.com", key) == email_hash("jane@example.com", key)
    assert len(email_hash("jane@example.com", key)) == 32
    # Keyed: without the key, hashing a guessed address finds nothing.
    assert email_hash("jane@example.com", key) != email_hash("jane@example.com", b"x" * 32)
    assert email_hash("jane@example.com", key) != hashlib.sha256(b"jane@example.com").digest()


def test_masking_hides_most_of_the_address():
    assert mask_email("jane.doe@example.com") == "j***@e***.com"
    assert "doe" not in mask_email("jane.doe@example.com")
