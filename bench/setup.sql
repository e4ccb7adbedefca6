-- setup.sql
--		What bench/bench.py measures with, besides the extension and
--		original_design.sql.  The server bench/run starts gives every bucket
--		a capacity and a rate of 1000000, so a call on an unconfigured key is
--		always granted: the costliest path, and the one compared.

-- The reference point for the cost of one call inside the backend.
CREATE SEQUENCE bench_seq;

-- hacienda_acquire() that answers false where it would raise RL001, so a
-- pgbench client keeps going after a wait that cannot be served in time.
CREATE FUNCTION bench_acquire(timeout double precision, key text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
	RETURN hacienda_acquire(timeout, key);
EXCEPTION
	WHEN SQLSTATE 'RL001' THEN
		RETURN false;
END
$$;

-- A key that is always exhausted: the Hacienda API's limits, 20 and 10/s.
SELECT hacienda_configure('saturated', 20, 10);

-- The grant times of the accuracy run, in seconds since the epoch.
CREATE UNLOGGED TABLE bench_grants (t double precision NOT NULL);

-- The original design's hot key, with the same limits as the extension's
-- default key, so every call of both is granted.
INSERT INTO l10n_cr_hacienda_rate_limit_state (key, tokens, capacity, refill_rate, last_refill)
VALUES ('default', 1000000, 1000000, 1000000, clock_timestamp() AT TIME ZONE 'UTC');
