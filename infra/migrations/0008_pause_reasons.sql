-- Why a campaign is paused, as a code a program can read (beside the human
-- status_reason), and when the pause lifts by itself (daily quota and cap).
-- The codes and what lifts each: shared/lifecycle/campaign.py PAUSE_REASONS.
ALTER TABLE email_campaigns
    ADD COLUMN pause_reason text CHECK (pause_reason IN (
        'manual', 'credentials', 'sandbox', 'failure_run', 'daily_quota', 'daily_cap', 'account_paused',
        'configuration', 'ses_unavailable', 'template', 'reputation')),
    ADD COLUMN resumes_at timestamptz,
    ADD CONSTRAINT email_campaigns_pause_reason_only_when_paused
        CHECK (status = 'paused' OR (pause_reason IS NULL AND resumes_at IS NULL));

-- Pauses from before the codes: the admin's read "paused by ...", the rest are
-- told apart by the reason the sender wrote.
UPDATE email_campaigns SET pause_reason = CASE
    WHEN status_reason LIKE 'paused by %' THEN 'manual'
    WHEN status_reason IN ('daily quota') THEN 'daily_quota'
    WHEN status_reason IN ('daily cap') THEN 'daily_cap'
    WHEN status_reason LIKE 'AWS credentials%' THEN 'credentials'
    WHEN status_reason LIKE 'the template is invalid%' THEN 'template'
    WHEN status_reason LIKE 'SES unreachable%' THEN 'ses_unavailable'
    WHEN status_reason LIKE 'bounce rate%' OR status_reason LIKE 'complaint rate%' THEN 'reputation'
    WHEN status_reason LIKE 'SES sending disabled%' OR status_reason LIKE 'SES sending is paused%'
         OR status_reason LIKE 'the SES account is suspended%' THEN 'account_paused'
    WHEN status_reason LIKE 'the MAIL FROM%' OR status_reason LIKE 'SES configuration missing%' THEN 'configuration'
    ELSE 'manual' END
WHERE status = 'paused';

-- The sender's watch for pauses that lift by themselves.
CREATE INDEX email_campaigns_resumes_idx ON email_campaigns (resumes_at) WHERE resumes_at IS NOT NULL;
