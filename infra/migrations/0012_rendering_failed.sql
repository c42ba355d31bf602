-- SES's Rendering Failure is a fact of its own (it was counted as `failed`, which is the
-- sender's own refusal): a column on the send's read row and a counter on the campaign.
-- Rejected and rendering-failed now outrank sent (projector.policy.STATUS_BY_RANK):
-- `outreach rebuild-projections` after this migration recomputes the read tables of
-- campaigns sent before it.
ALTER TABLE send_status ADD COLUMN rendering_failed_at timestamptz;
ALTER TABLE campaign_stats ADD COLUMN rendering_failed bigint NOT NULL DEFAULT 0;
