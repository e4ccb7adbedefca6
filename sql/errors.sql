--
-- Invalid arguments.  Each one raises an ERROR with a SQLSTATE of class 22
-- (data exception) before any bucket is touched, and the session carries on.
-- Buckets are shared by the whole cluster: this file uses only keys starting
-- with "errors_", and the multibyte keys of the last section.
--

--
-- NULL is never a valid argument: 22004 (null_value_not_allowed).
--
SELECT hacienda_try_acquire(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('errors_bucket', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(NULL, 'errors_bucket', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, 'errors_bucket', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_status(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_reset(NULL);
\echo :LAST_ERROR_SQLSTATE

--
-- The timeout must be a number of seconds from 0 to 2147483.647, the same
-- bound as statement_timeout: 22023 (invalid_parameter_value) otherwise.
--
SELECT hacienda_acquire('NaN', 'errors_bucket');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire('Infinity', 'errors_bucket');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire('-Infinity', 'errors_bucket');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(-1, 'errors_bucket');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(2147483.648, 'errors_bucket');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1e300, 'errors_bucket');
\echo :LAST_ERROR_SQLSTATE

-- The bounds themselves are valid timeouts.
SELECT hacienda_acquire(0, 'errors_timeout_bounds') AS granted,
       hacienda_acquire(2147483.647, 'errors_timeout_bounds') AS granted;

--
-- A request must be for 1 to capacity (20) tokens: 22023 otherwise.
--
SELECT hacienda_try_acquire('errors_bucket', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('errors_bucket', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('errors_bucket', 21);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('errors_bucket', 2147483647);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, 'errors_bucket', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, 'errors_bucket', -2147483648);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, 'errors_bucket', 21);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, 'errors_bucket', 2147483647);
\echo :LAST_ERROR_SQLSTATE

--
-- A key must be 1 to 255 bytes long: 22023 otherwise, in every function.
--
SELECT hacienda_try_acquire('');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, '');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_status('');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_reset('');
\echo :LAST_ERROR_SQLSTATE

-- 255 bytes is the longest key.
SELECT hacienda_try_acquire('errors_' || repeat('k', 248)) AS granted;
SELECT octet_length(key) AS key_bytes, total_requests
FROM hacienda_status('errors_' || repeat('k', 248));

-- One byte more is too long, and so is a megabyte.
SELECT hacienda_try_acquire('errors_' || repeat('k', 249));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1, 'errors_' || repeat('k', 249));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_status('errors_' || repeat('k', 249));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_reset('errors_' || repeat('k', 249));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(repeat('k', 1000000));
\echo :LAST_ERROR_SQLSTATE

--
-- The length of a key is counted in bytes, not characters: 85 three-byte
-- characters (255 bytes) are a valid key, 86 are not, and neither are 128
-- two-byte characters (256 bytes).
--
SELECT char_length(repeat('€', 85)) AS chars, octet_length(repeat('€', 85)) AS bytes;
SELECT hacienda_try_acquire(repeat('€', 85)) AS granted;
SELECT char_length(key) AS key_chars, octet_length(key) AS key_bytes, total_requests
FROM hacienda_status(repeat('€', 85));
SELECT hacienda_try_acquire(repeat('€', 86));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(repeat('é', 128));
\echo :LAST_ERROR_SQLSTATE

--
-- None of the failed calls above touched the bucket they named: it was never
-- created, and looks full and unused.  The session is still usable, and a
-- valid call on the same bucket works.
--
SELECT tokens, total_requests, rejected_requests, waiting, last_request
FROM hacienda_status('errors_bucket');
SELECT hacienda_try_acquire('errors_bucket') AS granted;
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('errors_bucket');

--
-- Case F03: the default limits cannot be poisoned either.  The server checks
-- each setting against its range before ALTER SYSTEM writes anything, so 0,
-- -1, NaN and the infinities are refused with 22023 and the limits in force
-- stay finite.
--
ALTER SYSTEM SET hacienda_ratelimit.capacity = 0;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.capacity = -1;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.capacity = 'NaN';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 0;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.refill_rate = -1;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 'NaN';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 'Infinity';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.refill_rate = '-Infinity';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS settings_written FROM pg_file_settings
WHERE name LIKE 'hacienda_ratelimit.%' AND sourcefile LIKE '%postgresql.auto.conf';
SELECT capacity, refill_rate, tokens = capacity AS full
FROM hacienda_status('errors_bucket_f03');
