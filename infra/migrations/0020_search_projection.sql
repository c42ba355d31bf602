-- Substring search leaves the prospects write path: its trigram index cost 60 % of a
-- bulk import's floor. Each prospect's search text now lives in prospect_search under
-- that index. A single write (create, edit) keeps its row in the same statement; an
-- import leaves its rows to the projector's search indexer, which reads what is still
-- to do from search_refresh (shared/lifecycle/prospect.py, services/projector).

-- The one definition of a prospect's search text: lower-cased address, names, company.
CREATE FUNCTION outreach_search_text(email text, first_name text, last_name text, company text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT lower(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')
                   || ' ' || coalesce(company, '')) $$;

-- Erasure deletes the prospect and, with it, its search text.
CREATE TABLE prospect_search (
    id           uuid PRIMARY KEY REFERENCES prospects (id) ON DELETE CASCADE,
    search_text  text NOT NULL
);
INSERT INTO prospect_search (id, search_text)
SELECT id, outreach_search_text(email, first_name, last_name, company) FROM prospects;
CREATE INDEX prospect_search_trgm_idx ON prospect_search USING gin (search_text gin_trgm_ops);

DROP INDEX prospects_search_trgm_idx;
ALTER TABLE prospects DROP COLUMN search_text;

-- Imports whose rows are still to index: every prospect written at or after `since`
-- (the import transaction's now()) is compared with its search row. Queued by the
-- projector from ProspectsImported, deleted when the indexer has been through them.
CREATE TABLE search_refresh (
    event_id   uuid PRIMARY KEY,
    since      timestamptz NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now()
);
