-- Case-insensitive substring search over email, names and company, fast at 1M rows:
-- a trigram GIN index over one lower-cased search text.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE prospects ADD COLUMN search_text text GENERATED ALWAYS AS (
    lower(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')
          || ' ' || coalesce(company, ''))
) STORED;

CREATE INDEX prospects_search_trgm_idx ON prospects USING gin (search_text gin_trgm_ops);
