--
-- Who may call what.  Taking tokens and looking at buckets is open to every
-- role; refilling a bucket lifts the limit for everyone, so hacienda_reset is
-- for administrators and the roles they grant it to.
-- Buckets are shared by the whole cluster: this file uses only keys starting
-- with "privileges_".
--

CREATE ROLE regress_hacienda_plain NOLOGIN;

--
-- No function of the extension runs as its owner: none is SECURITY DEFINER.
--
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension AS e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'hacienda_ratelimit' AND d.deptype = 'e'
ORDER BY p.proname;

--
-- The privileges as the catalog reports them for a plain role.
--
SELECT p.proname AS function,
       has_function_privilege('regress_hacienda_plain', p.oid, 'EXECUTE') AS can_execute
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension AS e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'hacienda_ratelimit' AND d.deptype = 'e'
ORDER BY p.proname;

--
-- A plain role takes tokens, waits for them and looks at buckets.
--
SET ROLE regress_hacienda_plain;
SELECT current_user;
SELECT hacienda_try_acquire('privileges_bucket', 15) AS granted;
SELECT hacienda_acquire(0, 'privileges_bucket', 5) AS granted;
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('privileges_bucket');

-- It may not refill a bucket: 42501 (insufficient_privilege).
SELECT hacienda_reset('privileges_bucket');
\echo :LAST_ERROR_SQLSTATE
SELECT tokens::int AS tokens FROM hacienda_status('privileges_bucket');
RESET ROLE;

--
-- Once granted EXECUTE on hacienda_reset, it may.
--
GRANT EXECUTE ON FUNCTION hacienda_reset(text) TO regress_hacienda_plain;
SET ROLE regress_hacienda_plain;
SELECT hacienda_reset('privileges_bucket');
SELECT tokens, total_requests FROM hacienda_status('privileges_bucket');
RESET ROLE;

--
-- Clean up: the grant, then the role.
--
REVOKE EXECUTE ON FUNCTION hacienda_reset(text) FROM regress_hacienda_plain;
SELECT has_function_privilege('regress_hacienda_plain', 'hacienda_reset(text)', 'EXECUTE')
    AS can_reset;
DROP OWNED BY regress_hacienda_plain;
DROP ROLE regress_hacienda_plain;
