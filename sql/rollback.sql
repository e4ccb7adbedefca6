--
-- Tokens are spent the moment they are granted, like sequence values: rolling
-- back the transaction that took them does not give them back.
-- Buckets are shared by the whole cluster: this file uses only the key "tx"
-- and keys starting with "rollback_".
--

--
-- Case F06: of 25 calls in a transaction, 20 are granted and 5 refused; after
-- the ROLLBACK the bucket is still empty.
--
BEGIN;
SELECT hacienda_try_acquire('tx') FROM generate_series(1,25);
ROLLBACK;
SELECT hacienda_try_acquire('tx');
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('tx');

--
-- The same inside a savepoint that is rolled back: the tokens taken after it
-- stay spent, and the transaction commits with all 20 gone.
--
BEGIN;
SELECT hacienda_try_acquire('rollback_savepoint', 5) AS granted;
SAVEPOINT before_burst;
SELECT hacienda_try_acquire('rollback_savepoint', 15) AS granted;
ROLLBACK TO SAVEPOINT before_burst;
SELECT hacienda_try_acquire('rollback_savepoint') AS granted;
COMMIT;
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('rollback_savepoint');

--
-- The same in a transaction that fails: the error aborts it, but not the
-- grant made before the error.
--
BEGIN;
SELECT hacienda_try_acquire('rollback_error', 20) AS granted;
SELECT 1 / 0;
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('rollback_error') AS granted;
ROLLBACK;
SELECT hacienda_try_acquire('rollback_error') AS granted;
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('rollback_error');

--
-- A grant made by the very statement that fails is spent as well.
--
DO $$
BEGIN
    PERFORM hacienda_try_acquire('rollback_statement', 20);
    RAISE EXCEPTION 'failing after the grant';
END
$$;
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_try_acquire('rollback_statement') AS granted;
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('rollback_statement');
