-- The address hash becomes HMAC-SHA256 under SUPPRESSION_HASH_KEY: a bare sha256 of an
-- address is reversed by hashing a list of guesses, and the suppressions of erased people
-- would give their addresses back. The key never reaches the database; the gateway
-- passes it to the statements that need it. Existing rows are re-keyed by the gateway at
-- its first start with a key (shared.lifecycle.prospect.adopt_suppression_key): the
-- database cannot do it here without the key.

DROP FUNCTION outreach_email_hash(text);

-- HMAC's inner and outer pads of a key (RFC 2104), computed once per statement by callers
-- that hash many addresses (outreach_email_hash(email, ipad, opad) is then two sha256).
CREATE FUNCTION outreach_hmac_pads(key bytea, OUT ipad bytea, OUT opad bytea)
LANGUAGE sql IMMUTABLE STRICT AS $$
    WITH padded AS (
        SELECT k || decode(repeat('00', 64 - length(k)), 'hex') AS k
        FROM (SELECT CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END AS k) given
    )
    SELECT decode(string_agg(lpad(to_hex(get_byte(k, i) # 54), 2, '0'), '' ORDER BY i), 'hex'),
           decode(string_agg(lpad(to_hex(get_byte(k, i) # 92), 2, '0'), '' ORDER BY i), 'hex')
    FROM padded, generate_series(0, 63) i
$$;

-- The application's shared.addresses.email_hash(email, key), in SQL.
CREATE FUNCTION outreach_email_hash(email text, ipad bytea, opad bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT sha256(opad || sha256(ipad || convert_to(lower(email), 'UTF8'))) $$;

CREATE FUNCTION outreach_email_hash(email text, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT outreach_email_hash(email, p.ipad, p.opad) FROM outreach_hmac_pads(key) p $$;

-- Which key the stored hashes were made with (an HMAC of a fixed text, not the key):
-- a gateway started with another key refuses to start instead of missing every suppression.
-- Until a gateway adopts a key, `rekey_pending` says whether rows of bare hashes exist.
CREATE TABLE suppression_key (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint   bytea,
    rekey_pending boolean NOT NULL,
    adopted_at    timestamptz
);
INSERT INTO suppression_key (rekey_pending)
SELECT EXISTS (SELECT 1 FROM prospects) OR EXISTS (SELECT 1 FROM suppressions);

-- Suppressions whose address nobody knows any more (erased before the key existed) stay
-- bare sha256 hashes here: an import of such an address is still suppressed, and the row
-- moves to `suppressions`, keyed, the moment the address is seen again.
CREATE TABLE legacy_suppressions (
    sha256      bytea PRIMARY KEY,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL
);
