-- original_design.sql
--		The limiter hacienda_ratelimit replaces, rebuilt in PL/pgSQL as the
--		baseline of bench/run.
--
-- As the original did: the bucket is a row of l10n_cr_hacienda_rate_limit_state,
-- a transaction-scoped advisory lock serialises the callers of one key, tokens
-- are a float and times are timestamps, and every call UPDATEs the row, so every
-- call writes WAL and its transaction commits with a WAL record.  The original
-- sent these statements one by one from Odoo; here they run in one function,
-- one round trip per call, which if anything flatters the baseline.

CREATE TABLE l10n_cr_hacienda_rate_limit_state (
	id serial PRIMARY KEY,
	key varchar NOT NULL UNIQUE,
	tokens double precision NOT NULL,
	capacity integer NOT NULL DEFAULT 20,
	refill_rate double precision NOT NULL DEFAULT 10,
	last_refill timestamp NOT NULL,
	total_requests integer NOT NULL DEFAULT 0,
	rejected_requests integer NOT NULL DEFAULT 0,
	last_request timestamp
);

-- Take p_tokens from p_key's row if they are there now.  Locks the key until the
-- caller's transaction ends, creates the row full on first use, refills it by
-- the time elapsed since the last call, and writes it back, granted or not.
CREATE FUNCTION original_try_acquire(p_key text DEFAULT 'default', p_tokens integer DEFAULT 1)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
	state l10n_cr_hacienda_rate_limit_state%ROWTYPE;
	now_utc timestamp;
	level double precision;
	granted boolean;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('l10n_cr_hacienda_rate_limit:' || p_key));
	now_utc := clock_timestamp() AT TIME ZONE 'UTC';

	SELECT * INTO state FROM l10n_cr_hacienda_rate_limit_state WHERE key = p_key;
	IF NOT FOUND THEN
		INSERT INTO l10n_cr_hacienda_rate_limit_state (key, tokens, last_refill)
		VALUES (p_key, 20, now_utc)
		RETURNING * INTO state;
	END IF;

	level := least(state.capacity::double precision,
		state.tokens +
		extract(epoch FROM now_utc - state.last_refill)::double precision * state.refill_rate);
	granted := level >= p_tokens;

	UPDATE l10n_cr_hacienda_rate_limit_state
	SET tokens = CASE WHEN granted THEN level - p_tokens ELSE level END,
		last_refill = now_utc,
		total_requests = total_requests + granted::integer,
		rejected_requests = rejected_requests + (NOT granted)::integer,
		last_request = CASE WHEN granted THEN now_utc ELSE last_request END
	WHERE id = state.id;

	RETURN granted;
END
$$;
