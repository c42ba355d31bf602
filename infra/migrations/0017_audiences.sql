-- Audiences: tags on prospects, saved segments (named rules, shared/audience.py), and
-- what engagement rules read.

-- Lower-case labels (shared.audience.normalize_tag), at most 50; a GIN index serves
-- "tags has X" at a million prospects. A new column with a constant default is
-- metadata only: no rewrite of the table.
ALTER TABLE prospects
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 50);
CREATE INDEX prospects_tags_idx ON prospects USING gin (tags);

CREATE TABLE segments (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    rule        jsonb NOT NULL CHECK (jsonb_typeof(rule) = 'object'),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX segments_name_key ON segments (lower(name));

-- Engagement rules ask "did this prospect open/click/... (in this campaign, or lately)":
-- by prospect, not by campaign as the stats do.
CREATE INDEX send_status_prospect_idx ON send_status (prospect_id);
-- A reply is a fact of the send like an open; the reply reader (SES inbound) sets it.
ALTER TABLE send_status ADD COLUMN replied_at timestamptz;
