"""What an address says about itself (shared.address_checks)."""

from __future__ import annotations

import pytest

from shared.address_checks import flags_of, is_disposable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("email", "flags"),
    [
        ("ada@initech.example", []),
        ("info@initech.example", ["role"]),
        ("Sales+emea@initech.example", ["role"]),  # any case, a sub-address
        ("postmaster@initech.example", ["role"]),  # RFC 2142
        ("information@initech.example", []),  # not the role name itself
        ("ada@mailinator.com", ["disposable"]),
        ("ada@inbox.mailinator.com", ["disposable"]),  # a subdomain of a listed domain
        ("support@guerrillamail.com", ["role", "disposable"]),
        ("ada@com", []),  # a bare TLD is never matched as a listed domain
    ],
)
def test_role_and_disposable_addresses_are_flagged(email, flags):
    assert flags_of(email) == flags


def test_the_disposable_list_is_the_maintained_package_and_not_a_handful():
    from disposable_email_domains import blocklist

    assert len(blocklist) > 1000
    assert is_disposable("MAILINATOR.COM.") and not is_disposable("gmail.com")
