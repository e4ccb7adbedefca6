--
-- Hostile input.  Every function gets NULLs, non-finite and extreme numbers,
-- keys at and past every length bound, and keys made of awkward bytes.  Each
-- rejected value raises an ERROR with a SQLSTATE of class 22 (data exception),
-- or 54 (program limit exceeded) where PostgreSQL itself refuses the value
-- before the function is called; never an internal error, and never a crash.
-- The last section shows that none of it changed a bucket.
--
-- The server runs with hacienda_ratelimit.refill_rate = 0.001 and capacity 20.
-- Buckets are shared by the whole cluster: this file uses only keys starting
-- with "hostile_".
--

-- A crash of any backend restarts the postmaster: remember when it started.
SELECT pg_postmaster_start_time() AS postmaster_start \gset

--
-- NULL in every argument of every function: 22004 (null_value_not_allowed).
-- The functions are not STRICT, so a NULL reaches them and is refused rather
-- than turned into a NULL result that a caller could read as "no".
--
SELECT hacienda_try_acquire(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_refused', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(NULL, 'hostile_refused', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, 'hostile_refused', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_status(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_reset(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure(NULL, 10, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_unconfigure(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_refused', NULL);
\echo :LAST_ERROR_SQLSTATE

-- With every argument NULL, the first one checked is named.
SELECT hacienda_configure(NULL, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE

--
-- Timeouts.  The longest is 2147483.647 s, which keeps the wait far from the
-- 2^63 nanoseconds (about 9223372036.85 s) where the conversion to int64
-- would overflow: every value near or past that point is refused with 22023
-- before any arithmetic, and so are NaN, the infinities and negative values,
-- the negative denormal included.
--
SELECT hacienda_acquire('NaN', 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire('Infinity', 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire('-Infinity', 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(-0.001, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(-5e-324, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(-1.7976931348623157e308, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(2147483.6471, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(9.2233720368e9, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(9.3e9, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1e19, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(1.7976931348623157e308, 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE

-- A number past double precision never reaches the function: 22003.
SELECT hacienda_acquire('1e309', 'hostile_refused');
\echo :LAST_ERROR_SQLSTATE

--
-- The smallest denormal, 5e-324 s, and negative zero are valid timeouts that
-- round to 0 ns: they grant what a bucket holds now and never wait.  On an
-- empty bucket they fail at once with RL001.  (Terse: the DETAIL of RL001
-- gives a wait that depends on timing.)
--
SELECT hacienda_acquire(5e-324, 'hostile_tiny_timeout', 19) AS granted,
       hacienda_acquire('-0', 'hostile_tiny_timeout') AS granted;
\set VERBOSITY terse
SELECT hacienda_acquire(5e-324, 'hostile_tiny_timeout');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire('-0', 'hostile_tiny_timeout');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT tokens::int AS tokens, total_requests, rejected_requests, waiting
FROM hacienda_status('hostile_tiny_timeout');

--
-- Refill rates for hacienda_configure: 0.001 to 1000000 tokens per second,
-- 22023 otherwise.  Zero, negative zero and both denormals are below the
-- bound, and a rate just under 0.001 is not rounded up into it.
--
SELECT hacienda_configure('hostile_config', 10, 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 'Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, '-Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, -1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, '-0');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 5e-324);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, -5e-324);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 0.0009999999);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 1000000.001);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 9.3e9);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, 1.7976931348623157e308);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 10, '1e309');
\echo :LAST_ERROR_SQLSTATE

--
-- Capacities: 1 to 1000000 tokens, 22023 otherwise.  A value past int4
-- never reaches the function: 22003.
--
SELECT hacienda_configure('hostile_config', 0, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', -1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 1000001, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', 2147483647, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', -2147483648, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_config', '2147483648', 1);
\echo :LAST_ERROR_SQLSTATE

--
-- Token counts: 1 to the bucket's capacity (20), 22023 otherwise, in every
-- function that takes tokens.
--
SELECT hacienda_try_acquire('hostile_refused', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_refused', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_bucket', 21);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_bucket', 2147483647);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_refused', -2147483648);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, 'hostile_refused', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, 'hostile_refused', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(2147483.647, 'hostile_bucket', 21);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(2147483.647, 'hostile_bucket', 2147483647);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, 'hostile_refused', -2147483648);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_refused', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_refused', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_bucket', 21);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_bucket', 2147483647);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_refused', -2147483648);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_refused', '2147483648');
\echo :LAST_ERROR_SQLSTATE

--
-- The largest limits a key may have: 1000000 tokens at 0.001 per second.
-- Emptying the bucket leaves a wait of 10^9 s, 10^18 ns, for the whole
-- capacity; the arithmetic gives it without overflow, and hacienda_acquire
-- refuses it at once even with the longest timeout.  One token more than
-- the key's capacity is 22023.
--
SELECT hacienda_configure('hostile_extreme', 1000000, 0.001);
SELECT hacienda_try_acquire('hostile_extreme', 1000000) AS granted;
SELECT allowed, remaining,
       retry_after BETWEEN 999999000 AND 1000000000 AS retry_after_1e9s,
       reset_after BETWEEN 999999000 AND 1000000000 AS reset_after_1e9s
FROM hacienda_throttle('hostile_extreme', 1000000);
\set VERBOSITY terse
SELECT hacienda_acquire(2147483.647, 'hostile_extreme', 1000000);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT hacienda_try_acquire('hostile_extreme', 1000001);
\echo :LAST_ERROR_SQLSTATE
SELECT capacity, refill_rate, tokens < 1 AS empty, total_requests, rejected_requests, waiting
FROM hacienda_status('hostile_extreme');
SELECT hacienda_unconfigure('hostile_extreme');

--
-- Key lengths: 1 to 255 bytes.  Empty, 256 bytes and a megabyte are 22023
-- in every function that takes a key.
--
SELECT hacienda_try_acquire('');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('', 10, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_unconfigure('');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_' || repeat('x', 248));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle('hostile_' || repeat('x', 248));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('hostile_' || repeat('x', 248), 10, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_unconfigure('hostile_' || repeat('x', 248));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, repeat('x', 1000000));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_status(repeat('x', 1000000));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_reset(repeat('x', 1000000));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure(repeat('x', 1000000), 10, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hacienda_throttle(repeat('x', 1000000));
\echo :LAST_ERROR_SQLSTATE

-- 255 bytes is a valid key for throttle and status as well.
SELECT allowed, remaining FROM hacienda_throttle('hostile_' || repeat('x', 247));
SELECT octet_length(key) AS key_bytes, tokens::int AS tokens, total_requests
FROM hacienda_status('hostile_' || repeat('x', 247));

--
-- Keys stored in a table reach the functions in every varlena form: a short
-- one-byte header, a 255-byte value, and a megabyte either compressed or
-- moved out of line uncompressed.  Each is measured in bytes once detoasted.
--
CREATE TEMP TABLE hostile_keys (id int, key text);
ALTER TABLE hostile_keys ALTER COLUMN key SET STORAGE EXTERNAL;
CREATE TEMP TABLE hostile_packed_keys (id int, key text);
INSERT INTO hostile_keys
VALUES (1, 'hostile_stored'), (2, 'hostile_' || repeat('s', 247)), (3, repeat('x', 1000000));
INSERT INTO hostile_packed_keys VALUES (4, repeat('x', 1000000));
SELECT id, octet_length(key) AS bytes, pg_column_size(key) < octet_length(key) AS compressed
FROM (SELECT * FROM hostile_keys UNION ALL SELECT * FROM hostile_packed_keys) AS k
ORDER BY id;
SELECT id, hacienda_try_acquire(key) AS granted FROM hostile_keys WHERE id < 3 ORDER BY id;
SELECT hacienda_try_acquire(key) FROM hostile_keys WHERE id = 3;
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(key) FROM hostile_packed_keys WHERE id = 4;
\echo :LAST_ERROR_SQLSTATE
DROP TABLE hostile_keys, hostile_packed_keys;

--
-- Multibyte keys are measured in bytes.  With the 8-byte prefix, 82 three-byte
-- characters and one ASCII byte make 255 bytes; 82 and a two-byte character
-- make 256.  Four-byte characters cross the bound at 62 of them, while the
-- key is still only 70 characters long.  U+FFFD, the replacement character,
-- is an ordinary three-byte character.
--
SELECT octet_length('hostile_' || repeat('€', 82) || 'x') AS bytes,
       octet_length('hostile_' || repeat('€', 82) || 'é') AS bytes,
       octet_length('hostile_' || repeat('😀', 62)) AS bytes,
       char_length('hostile_' || repeat('😀', 62)) AS chars;
SELECT hacienda_try_acquire('hostile_' || repeat('€', 82) || 'x') AS granted;
SELECT hacienda_try_acquire('hostile_' || repeat('€', 82) || 'é');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_' || repeat('😀', 61)) AS granted;
SELECT hacienda_try_acquire('hostile_' || repeat('😀', 62));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_' || repeat(chr(65533), 82)) AS granted;
SELECT * FROM hacienda_status('hostile_' || repeat(chr(65533), 83));
\echo :LAST_ERROR_SQLSTATE

--
-- Bytes that are not UTF-8 never reach the functions: the server refuses them
-- while reading the literal or converting it, with 22021
-- (character_not_in_repertoire).  A zero byte is refused the same way, and by
-- chr() with 54000.  A key arrives as text in the database encoding, so no
-- function can be handed an invalid one.
--
SELECT hacienda_try_acquire(E'hostile_\xff');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(E'hostile_\x00');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(convert_from('\x686f7374696c655fff', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(convert_from('\x686f7374696c655fc3', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire(convert_from('\x686f7374696c655f00', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_' || chr(0));
\echo :LAST_ERROR_SQLSTATE

--
-- Byte 0xe9 read as LATIN1 is converted to "é" in UTF-8 first, so it names
-- the same bucket as the UTF-8 literal.  E'\\xff' is not a byte at all: it is
-- the four characters backslash, x, f, f.
--
SELECT hacienda_try_acquire(convert_from('\x686f7374696c655fe9', 'LATIN1')) AS granted;
SELECT key = 'hostile_é' AS same_key, total_requests
FROM hacienda_status('hostile_é');
SELECT hacienda_try_acquire(E'hostile_\\xff') AS granted;
SELECT octet_length(key) AS key_bytes, total_requests
FROM hacienda_status('hostile_\xff');

--
-- Control characters, backslashes, quotes and format directives are plain
-- bytes of a key: each names its own bucket and comes back unchanged.  An
-- error that quotes the key prints the directives literally.
--
SELECT hacienda_try_acquire(E'hostile_\x01') AS ctrl,
       hacienda_try_acquire(E'hostile_\t\r\n') AS whitespace,
       hacienda_try_acquire(E'hostile_\\') AS backslash,
       hacienda_try_acquire('hostile_''"') AS quotes,
       hacienda_try_acquire('hostile_%s%n%x%p') AS format;
SELECT count(*) AS buckets, bool_and(total_requests = 1) AS one_request_each
FROM unnest(ARRAY[E'hostile_\x01', E'hostile_\t\r\n', E'hostile_\\', 'hostile_''"',
                  'hostile_%s%n%x%p']) AS k(key)
JOIN hacienda_buckets AS b USING (key);
SELECT hacienda_try_acquire('hostile_%s%n%x%p', 21);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('hostile_"; SELECT 1; --', 21);
\echo :LAST_ERROR_SQLSTATE

--
-- Nothing above changed a bucket it was refused on.  "hostile_refused" and
-- "hostile_config" were named only in calls refused before any lock was
-- taken: they were never created, and look full and unused.  The requests
-- for more than the capacity of "hostile_bucket" are checked under its lock,
-- and left it full, with no grant and no refusal counted.  No key is left
-- with limits of its own.
--
SELECT key, tokens, capacity, refill_rate, total_requests, rejected_requests, waiting,
       last_request
FROM unnest(ARRAY['hostile_refused', 'hostile_config', 'hostile_bucket']) AS k(name),
     hacienda_status(name)
ORDER BY key;
SELECT count(*) AS created
FROM hacienda_buckets
WHERE key IN ('hostile_refused', 'hostile_config');
SELECT count(*) AS configured
FROM hacienda_buckets
WHERE key LIKE 'hostile\_%' AND configured;

--
-- The session is still usable, and no backend crashed: a crash would have
-- restarted the postmaster.
--
SELECT hacienda_try_acquire('hostile_bucket') AS granted;
SELECT pg_postmaster_start_time() = :'postmaster_start'::timestamptz AS same_postmaster;
