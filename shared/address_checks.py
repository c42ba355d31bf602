"""What an address says about itself before any mail is sent to it.

- `role`: a mailbox of a function, not of a person (RFC 2142's names and the common
  others: info@, sales@, support@, …). Mail to them is read by many, complained about
  more, and cold outreach to them is what the bulk-sender rules call unsolicited.
- `disposable`: a throwaway-address provider, from the `disposable-email-domains`
  package (the community-maintained list), the domain or any parent of it.
- `no_mx`: the domain accepts no mail (no MX and no address record, a null MX, or no
  such domain): found by the background check (shared.lifecycle.domains), not here.

Flagged prospects are left out of campaigns unless a campaign opts in
(`include_flagged`); the admin lists them with the rule `{"field": "address_flags", …}`.
"""

from __future__ import annotations

from functools import lru_cache

from disposable_email_domains import blocklist

# RFC 2142 (section 3-5) and the function mailboxes every company has.
ROLE_LOCAL_PARTS = frozenset({
    # RFC 2142
    "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster", "hostmaster", "usenet",
    "news", "webmaster", "www", "uucp", "ftp",
    # common others
    "admin", "administrator", "billing", "careers", "contact", "customerservice", "enquiries", "enquiry", "help",
    "hello", "helpdesk", "hr", "jobs", "legal", "mail", "media", "no-reply", "noreply", "do-not-reply",
    "donotreply", "office", "orders", "press", "privacy", "recruiting", "reception", "service", "team",
})  # fmt: skip


def flags_of(email: str) -> list[str]:
    """The flags a normalised address carries by itself (no DNS): role, disposable."""
    local, _, domain = email.rpartition("@")
    role = local.split("+", 1)[0].lower() in ROLE_LOCAL_PARTS
    if is_disposable(domain):
        return ["role", "disposable"] if role else ["disposable"]
    return ["role"] if role else []


@lru_cache(maxsize=65_536)  # an import repeats its domains: each is looked up once
def is_disposable(domain: str) -> bool:
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))
