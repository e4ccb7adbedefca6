--
-- Per-key limits, throttle details and the view of every bucket.
--
-- The server runs with hacienda_ratelimit.refill_rate = 0.001 (one token per
-- 1000 seconds) and capacity 20.  Values that depend on timing are rounded.
-- Buckets are shared by the whole cluster: this file uses only keys starting
-- with "configure_".
--

--
-- A key gets limits of its own.  They apply at once: the full bucket of 20
-- shrinks to the new capacity of 5.
--
SELECT hacienda_try_acquire('configure_own') AS granted;
SELECT hacienda_configure('configure_own', 5, 2.5);
SELECT capacity, refill_rate, tokens::int AS tokens FROM hacienda_status('configure_own');
SELECT count(*) FILTER (WHERE hacienda_try_acquire('configure_own')) AS granted
FROM generate_series(1, 10);

-- A request above the key's own capacity names that capacity.
\set VERBOSITY default
SELECT hacienda_try_acquire('configure_own', 6);
\echo :LAST_ERROR_SQLSTATE

-- A larger capacity than the default is allowed for a configured key.
SELECT hacienda_configure('configure_big', 50, 0.001);
SELECT count(*) FILTER (WHERE hacienda_try_acquire('configure_big', 25)) AS granted
FROM generate_series(1, 3);

-- Back to the defaults: capacity 20 again, with no tokens added by itself.
SELECT hacienda_unconfigure('configure_own');
SELECT capacity, refill_rate, tokens::int AS tokens FROM hacienda_status('configure_own');

-- A bucket nobody has used yet starts full under the limits it is given, and
-- full again under the defaults when it returns to them.
SELECT hacienda_configure('configure_fresh', 3, 1);
SELECT capacity, refill_rate, tokens::int AS tokens FROM hacienda_status('configure_fresh');
SELECT hacienda_unconfigure('configure_fresh');
SELECT capacity, refill_rate, tokens::int AS tokens FROM hacienda_status('configure_fresh');

--
-- Invalid limits are rejected with SQLSTATE class 22, and nothing changes.
--
SELECT hacienda_configure('configure_bad', 7, 1);
SELECT hacienda_configure('configure_bad', 0, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', -1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 1000001, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 10, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 10, -1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 10, 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 10, 'Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 10, 1e7);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('configure_bad', 10, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure(NULL, 10, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('', 10, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT capacity, refill_rate FROM hacienda_status('configure_bad');

--
-- Throttle details in one call: allowed, what remains, when the same request
-- would succeed and when the bucket is full again, in exact seconds.
--
SELECT hacienda_configure('configure_throttle', 10, 0.5);
SELECT allowed, remaining, retry_after, round(reset_after) AS reset_after
FROM hacienda_throttle('configure_throttle', 4);
SELECT allowed, remaining, round(retry_after) AS retry_after, round(reset_after) AS reset_after
FROM hacienda_throttle('configure_throttle', 8);
SELECT allowed, remaining, round(retry_after) AS retry_after, round(reset_after) AS reset_after
FROM hacienda_throttle('configure_throttle', 6);
SELECT allowed, remaining, round(retry_after) AS retry_after, round(reset_after) AS reset_after
FROM hacienda_throttle('configure_throttle');
SELECT total_requests, rejected_requests FROM hacienda_status('configure_throttle');
SELECT hacienda_throttle('configure_throttle', 11);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_throttle('configure_throttle', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_throttle(NULL);
\echo :LAST_ERROR_SQLSTATE

--
-- The view lists every bucket with the columns of hacienda_status, and says
-- which limits are a key's own.
--
SELECT key, capacity, refill_rate, total_requests, rejected_requests, waiting,
       configured
FROM hacienda_buckets
WHERE key LIKE 'configure\_%'
ORDER BY key;

SELECT array_agg(attname ORDER BY attnum) AS columns
FROM pg_attribute
WHERE attrelid = 'hacienda_buckets'::regclass AND attnum > 0;

--
-- Only administrators change limits.
--
CREATE ROLE regress_hacienda_configure NOLOGIN;
SET ROLE regress_hacienda_configure;
SELECT hacienda_configure('configure_own', 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_unconfigure('configure_big');
\echo :LAST_ERROR_SQLSTATE
SELECT allowed FROM hacienda_throttle('configure_plain');
SELECT count(*) > 0 AS sees_buckets FROM hacienda_buckets;
RESET ROLE;
DROP ROLE regress_hacienda_configure;

SELECT hacienda_unconfigure('configure_big');
SELECT hacienda_unconfigure('configure_throttle');

--
-- Returning a key that never had limits of its own to the defaults changes
-- nothing: no bucket is created for it, and the call may be repeated.
--
SELECT hacienda_unconfigure('configure_never_seen');
SELECT hacienda_unconfigure('configure_never_seen');
SELECT count(*) AS buckets FROM hacienda_buckets WHERE key = 'configure_never_seen';
