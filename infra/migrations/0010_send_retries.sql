-- The admin's retry of failed (or, knowingly, unknown) sends: the old send steps aside,
-- kept and marked `retried_at`, and the prospect is eligible again, so the next claim is
-- a new send. At most one message per (campaign, prospect) now means: per send not retried.
ALTER TABLE email_sends ADD COLUMN retried_at timestamptz;
ALTER TABLE email_sends ADD CONSTRAINT email_sends_only_answered_sends_are_retried
    CHECK (retried_at IS NULL OR outcome IN ('failed', 'unknown'));

DROP INDEX email_sends_campaign_prospect_key;
CREATE UNIQUE INDEX email_sends_campaign_prospect_key
    ON email_sends (campaign_id, prospect_id) WHERE campaign_id IS NOT NULL AND retried_at IS NULL;

CREATE OR REPLACE FUNCTION eligible_prospects(p_campaign_id uuid, p_limit integer, p_after_seq bigint DEFAULT 0)
RETURNS TABLE (id uuid, seq bigint, email text, first_name text, last_name text,
               company text, title text, attributes jsonb)
LANGUAGE sql STABLE
AS $$
    SELECT p.id, p.seq, p.email, p.first_name, p.last_name, p.company, p.title, p.attributes
    FROM prospects p
    WHERE p.status = 'active'
      AND p.seq > p_after_seq
      AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
      AND NOT EXISTS (SELECT 1 FROM email_sends es
                      WHERE es.campaign_id = p_campaign_id AND es.prospect_id = p.id
                        AND es.retried_at IS NULL)
    ORDER BY p.seq
    LIMIT p_limit
$$;
