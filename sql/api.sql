--
-- The SQL API of hacienda_ratelimit, as a caller sees it.
--
-- The server runs with hacienda_ratelimit.refill_rate = 0.001, one token per
-- 1000 seconds, so no bucket refills noticeably while this file runs.  Values
-- that still depend on timing are rounded or compared, never printed as is.
-- Buckets are shared by the whole cluster: this file uses only keys starting
-- with "api_", plus "default" and "w".
--

-- The first file to run creates the extension for all the others.
CREATE EXTENSION hacienda_ratelimit;

SELECT extname, extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';

--
-- A burst: a full bucket grants exactly its capacity of 20 tokens, in order,
-- even when the calls come in one statement.
--
SELECT count(*) FILTER (WHERE granted) AS granted,
       count(*) FILTER (WHERE NOT granted) AS refused,
       bool_and(granted = (n <= 20)) AS first_twenty_granted
FROM (SELECT n, hacienda_try_acquire('api_burst') AS granted
      FROM generate_series(1, 25) AS n) AS calls;

-- The next call is refused too: the bucket is empty.
SELECT hacienda_try_acquire('api_burst') AS granted;

--
-- Status of the exhausted bucket: 20 granted requests, 6 refused (5 from the
-- burst and the one above), nobody waiting, fully used, and the next token
-- due in about 1000 seconds.  (Expanded display: one line per column.)
--
\x on
SELECT key,
       tokens::int AS tokens,
       capacity,
       refill_rate,
       total_requests,
       rejected_requests,
       waiting,
       last_request IS NOT NULL AS has_last_request,
       round(utilization) AS utilization,
       retry_after BETWEEN 990 AND 1000 AS retry_after_about_1000s
FROM hacienda_status('api_burst');
\x off

--
-- The tokens argument takes several tokens at once: 5, then the remaining 15,
-- after which not even 1 is left.
--
SELECT hacienda_try_acquire('api_tokens', 5) AS took_5;
SELECT tokens::int AS tokens FROM hacienda_status('api_tokens');
SELECT hacienda_try_acquire('api_tokens', 15) AS took_15;
SELECT hacienda_try_acquire('api_tokens', 1) AS took_1;
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('api_tokens');

--
-- Named buckets are independent: "api_burst" is empty, but other keys are
-- full.  Keys are compared byte for byte, so case and spaces matter.
--
SELECT hacienda_try_acquire('api_other') AS api_other,
       hacienda_try_acquire('API_BURST') AS "API_BURST",
       hacienda_try_acquire('api_burst ') AS "api_burst ",
       hacienda_try_acquire('api_burst') AS api_burst;
SELECT key, tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('api_other');

--
-- The defaults: key 'default' and 1 token.
--
SELECT hacienda_try_acquire() AS granted;
SELECT key, tokens::int AS tokens, total_requests FROM hacienda_status();

--
-- The status of a key nobody has used shows a full bucket that has never
-- granted anything.  Looking consumes nothing and creates nothing, however
-- often it is done.
--
SELECT count(*) FILTER (WHERE (hacienda_status('api_unused')).tokens = 20) AS full_looks
FROM generate_series(1, 100);
\x on
SELECT * FROM hacienda_status('api_unused');
\x off

--
-- hacienda_acquire with a timeout of 0 takes tokens that are there now.
--
SELECT hacienda_acquire(0, 'api_acquire') AS granted;
SELECT hacienda_acquire(0, 'api_acquire', 19) AS granted;
SELECT tokens::int AS tokens, total_requests, rejected_requests, waiting
FROM hacienda_status('api_acquire');

--
-- On the now empty bucket the next token is 1000 seconds away.  A wait that
-- cannot finish within its timeout fails at once with SQLSTATE RL001 instead
-- of sleeping first.  (The DETAIL gives the remaining wait, which depends on
-- timing; terse verbosity leaves it out.)
--
\set VERBOSITY terse
SELECT hacienda_acquire(0.5, 'api_acquire') AS granted;
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0, 'api_acquire') AS granted;
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_acquire(0.5, 'api_acquire', 2) AS granted;
\echo :LAST_ERROR_SQLSTATE
-- The message reads right whatever the number of tokens and of seconds.
SELECT hacienda_acquire(1, 'api_acquire', 2) AS granted;
\echo :LAST_ERROR_SQLSTATE

-- Failing fast: a timeout of 60 seconds does not make the call sleep.
SELECT clock_timestamp() AS started \gset
SELECT hacienda_acquire(60, 'api_acquire') AS granted;
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'started'::timestamptz < interval '10 seconds' AS failed_fast;
\set VERBOSITY default

-- A refused wait takes nothing and counts as a rejected request.
SELECT tokens::int AS tokens, total_requests, rejected_requests, waiting
FROM hacienda_status('api_acquire');

--
-- hacienda_reset refills a bucket to capacity.  Its counters and the time of
-- its last grant stay.
--
SELECT hacienda_reset('api_burst');
\x on
SELECT key, tokens, total_requests, rejected_requests, waiting,
       last_request IS NOT NULL AS has_last_request, utilization, retry_after
FROM hacienda_status('api_burst');
\x off
SELECT hacienda_try_acquire('api_burst', 20) AS granted;

-- Resetting a key nobody has used is harmless and creates nothing.
SELECT hacienda_reset('api_never_used');
SELECT tokens, total_requests, last_request FROM hacienda_status('api_never_used');

--
-- The configuration parameters: the defaults, except the refill rate set for
-- this test run.
--
SHOW hacienda_ratelimit.capacity;
SHOW hacienda_ratelimit.refill_rate;
SHOW hacienda_ratelimit.max_buckets;

--
-- A refused call costs nothing: it takes no tokens and only counts itself.
-- With 5 tokens left, 100000 requests for 6 tokens are all refused, and the
-- 5 tokens are still there afterwards.
--
SELECT hacienda_try_acquire('api_refused', 15) AS took_15;
SELECT tokens AS tokens_before, rejected_requests AS rejected_before
FROM hacienda_status('api_refused') \gset
SELECT count(*) FILTER (WHERE hacienda_try_acquire('api_refused', 6)) AS granted
FROM generate_series(1, 100000);
SELECT tokens::int AS tokens,
       tokens - :tokens_before BETWEEN 0 AND 0.01 AS tokens_unchanged,
       total_requests,
       rejected_requests - :rejected_before AS newly_rejected
FROM hacienda_status('api_refused');
SELECT hacienda_try_acquire('api_refused', 5) AS took_5;

--
-- Case F10: a request for more tokens than the bucket holds could never be
-- met, so both functions raise an error at once that names the capacity,
-- whatever the timeout.  Nothing is consumed and nothing is counted.
--
SELECT hacienda_try_acquire('w', 25);
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() AS started \gset
SELECT hacienda_acquire(5, 'w', 25);
\echo :LAST_ERROR_SQLSTATE
SELECT clock_timestamp() - :'started'::timestamptz < interval '4 seconds' AS failed_fast;
SELECT tokens, total_requests, rejected_requests, last_request
FROM hacienda_status('w');

-- The whole capacity is still there to take.
SELECT hacienda_acquire(5, 'w', 20) AS granted;

--
-- An oversized request on a key that has no bucket yet creates none: a caller
-- cannot fill the bucket table with requests that are refused anyway.
--
SELECT hacienda_try_acquire('api_oversized_new', 25);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS buckets FROM hacienda_buckets WHERE key = 'api_oversized_new';

--
-- Every session labels a grant with the same wall-clock time: last_request
-- does not move between reads, nor from one session to the next.
--
SELECT hacienda_try_acquire('api_last_request') AS granted;
SELECT last_request AS first_read FROM hacienda_status('api_last_request') \gset
SELECT pg_sleep(0.05);
\c
SELECT last_request = :'first_read'::timestamptz AS same_in_new_session,
       last_request <= clock_timestamp() AS not_in_future
FROM hacienda_status('api_last_request');
