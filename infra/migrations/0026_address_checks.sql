-- Address checks (shared.address_checks): what an address says about itself (role,
-- disposable: set at import and creation) and whether its domain takes mail (no_mx: the
-- background check, shared.lifecycle.domains). A flagged prospect is left out of a
-- campaign unless the campaign opts in.
ALTER TABLE prospects ADD COLUMN address_flags text[] NOT NULL DEFAULT '{}'
    CHECK (address_flags <@ ARRAY['role', 'disposable', 'no_mx']);
ALTER TABLE email_campaigns ADD COLUMN include_flagged boolean NOT NULL DEFAULT false;

-- One row per domain of a prospect: queued when the first prospect of it arrives, then
-- what DNS said. accepts_mail: true (MX, or an address record as the implicit MX of
-- RFC 5321), false (no such domain, a null MX of RFC 7505, neither), null (not known: not
-- checked yet, or DNS did not answer; `attempts` in a row, retried later and later).
-- Checked again a month after an answer.
CREATE TABLE email_domains (
    domain         text PRIMARY KEY,
    accepts_mail   boolean,
    checked_at     timestamptz,
    next_check_at  timestamptz NOT NULL DEFAULT now(),
    attempts       smallint NOT NULL DEFAULT 0,
    detail         text
);
CREATE INDEX email_domains_due ON email_domains (next_check_at);
