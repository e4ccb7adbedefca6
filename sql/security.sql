--
-- Security.  A plain role may take tokens and look at buckets, but may not
-- lift or change a limit: not through the administrative functions, not
-- through the settings, and not by replacing the extension's objects.  No
-- function runs with its owner's rights, and the install and upgrade scripts
-- qualify every name, so objects planted on a hostile search_path are never
-- picked up.
-- Buckets are shared by the whole cluster: this file uses only keys starting
-- with "security_".
--

CREATE ROLE regress_security_plain NOLOGIN;

--
-- A plain role takes tokens, waits for them, asks when to come back and
-- looks at one bucket or all of them.
--
SET ROLE regress_security_plain;
SELECT current_user;
SELECT hacienda_try_acquire('security_plain', 5) AS granted;
SELECT hacienda_acquire(0, 'security_plain', 5) AS granted;
SELECT allowed, remaining FROM hacienda_throttle('security_plain', 5);
SELECT tokens::int AS tokens, total_requests, rejected_requests
FROM hacienda_status('security_plain');
SELECT key, capacity, total_requests, configured
FROM hacienda_buckets
WHERE key = 'security_plain';
SELECT buckets >= 0 AS sees_evictions FROM hacienda_evicted();

--
-- It may not refill a bucket or change a key's limits: 42501
-- (insufficient_privilege), and the bucket is as it was.
--
SELECT hacienda_reset('security_plain');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_configure('security_plain', 1000000, 1000000);
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_unconfigure('security_plain');
\echo :LAST_ERROR_SQLSTATE
SELECT tokens::int AS tokens, capacity, refill_rate FROM hacienda_status('security_plain');

--
-- Nor may it change the default limits.  capacity and refill_rate are read
-- from the configuration files only, so SET and set_config() fail for every
-- role with 55P02 (cant_change_runtime_param); max_buckets needs a restart.
-- ALTER SYSTEM is for superusers: 42501.
--
SET hacienda_ratelimit.capacity = 1000000;
\echo :LAST_ERROR_SQLSTATE
SET hacienda_ratelimit.refill_rate = 1000000;
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('hacienda_ratelimit.capacity', '1000000', false);
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('hacienda_ratelimit.refill_rate', '1000000', true);
\echo :LAST_ERROR_SQLSTATE
SET hacienda_ratelimit.max_buckets = 1;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.capacity = 1000000;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 1000000;
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM RESET hacienda_ratelimit.refill_rate;
\echo :LAST_ERROR_SQLSTATE

-- The prefix is reserved: no placeholder can be made up under it.
SET hacienda_ratelimit.bypass = on;
\echo :LAST_ERROR_SQLSTATE
SHOW hacienda_ratelimit.capacity;
SHOW hacienda_ratelimit.refill_rate;

--
-- Nor may it load the library itself, or replace or drop the extension's
-- objects.  The view grants it reading and nothing else.
--
LOAD 'hacienda_ratelimit';
\echo :LAST_ERROR_SQLSTATE
CREATE OR REPLACE FUNCTION public.hacienda_try_acquire(key text, tokens integer)
RETURNS boolean LANGUAGE sql AS 'SELECT true';
\echo :LAST_ERROR_SQLSTATE
DROP FUNCTION hacienda_reset(text);
\echo :LAST_ERROR_SQLSTATE
DROP VIEW hacienda_buckets;
\echo :LAST_ERROR_SQLSTATE
SELECT privilege, has_table_privilege('hacienda_buckets', privilege) AS granted
FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                  'TRIGGER']) AS privilege;
ALTER EXTENSION hacienda_ratelimit UPDATE;
\echo :LAST_ERROR_SQLSTATE
DROP EXTENSION hacienda_ratelimit;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SELECT hacienda_try_acquire('security_plain', 10) AS granted;
SELECT tokens::int AS tokens, capacity, refill_rate, total_requests, rejected_requests
FROM hacienda_status('security_plain');

--
-- The functions of the extension, by language.  None is SECURITY DEFINER,
-- and any written in SQL or PL/pgSQL pins its search_path: both lists of
-- offenders are empty.
--
CREATE TEMP VIEW security_functions AS
SELECT p.oid::regprocedure AS function, l.lanname AS language, p.prosecdef, p.proconfig
FROM pg_proc AS p
JOIN pg_language AS l ON l.oid = p.prolang
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension AS e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'hacienda_ratelimit' AND d.deptype = 'e';

SELECT language, count(*) AS functions FROM security_functions GROUP BY language;
SELECT function AS security_definer FROM security_functions WHERE prosecdef;
SELECT function AS unpinned_search_path
FROM security_functions
WHERE language IN ('sql', 'plpgsql')
  AND NOT EXISTS (SELECT FROM unnest(proconfig) AS c WHERE c LIKE 'search\_path=%');

--
-- A hostile schema, owned by the plain role, shadows the names the scripts
-- use that pg_catalog does not have: the function behind the view and the
-- view itself, which log every call.  Names pg_catalog has (text, int4,
-- float8, the text operators) cannot be shadowed by a schema on the path,
-- because pg_catalog is searched first unless the path lists it.  Temporary
-- relations are searched even before pg_catalog for relation and type names:
-- temporary tables named "void" and "record" shadow the two result types the
-- scripts leave unqualified.  CREATE EXTENSION runs the scripts with the
-- target schema and pg_temp last on the path, and the scripts qualify every
-- other name, so none of these may be picked up.
--
CREATE SCHEMA regress_hostile AUTHORIZATION regress_security_plain;
SET ROLE regress_security_plain;

CREATE TABLE regress_hostile.calls (called text);

CREATE FUNCTION regress_hostile.hacienda_bucket_list(
	OUT key text, OUT tokens float8, OUT capacity int4, OUT refill_rate float8,
	OUT total_requests int8, OUT rejected_requests int8, OUT waiting int4,
	OUT last_request timestamptz, OUT utilization float8, OUT retry_after float8,
	OUT configured bool)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_hostile.calls VALUES ('hacienda_bucket_list');
	RETURN QUERY SELECT 'captured'::text, 0::float8, 1, 1::float8, 0::int8, 0::int8, 0,
		NULL::timestamptz, 0::float8, 0::float8, true;
END
$$;

CREATE VIEW regress_hostile.hacienda_buckets AS
SELECT * FROM regress_hostile.hacienda_bucket_list();

CREATE TEMP TABLE void (captured int);
CREATE TEMP TABLE record (captured int);
RESET ROLE;

--
-- Each trap works in an ordinary session on the hostile path: the view is
-- the hostile one and logs its call, and "void" names the temporary type.
--
SET search_path = regress_hostile, public;
SELECT key FROM hacienda_buckets;
SELECT called FROM regress_hostile.calls;
SELECT 'void'::regtype <> 'pg_catalog.void'::regtype AS void_shadowed,
       'record'::regtype <> 'pg_catalog.record'::regtype AS record_shadowed;
TRUNCATE regress_hostile.calls;

--
-- Install the newest version under the hostile search_path.
--
DROP EXTENSION hacienda_ratelimit;
CREATE EXTENSION hacienda_ratelimit SCHEMA public;
SELECT e.extversion, n.nspname AS schema
FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'hacienda_ratelimit';

-- Nothing hostile was called.
SELECT count(*) AS hostile_calls FROM regress_hostile.calls;

--
-- The view reads public.hacienda_bucket_list(): it depends on that function
-- alone, and its definition, printed under the hostile search_path, names it
-- with its schema because the hostile one would otherwise win.
--
SELECT DISTINCT d.refobjid::regprocedure AS view_calls
FROM pg_rewrite AS r
JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
WHERE r.ev_class = 'public.hacienda_buckets'::regclass
  AND d.refclassid = 'pg_proc'::regclass;
SELECT pg_get_viewdef('public.hacienda_buckets'::regclass) LIKE
       '%FROM public.hacienda_bucket_list()%' AS qualified_definition;

--
-- Every function lives in public and every argument and result type is the
-- one in pg_catalog; the list of those that do not is empty.
--
CREATE TEMP VIEW security_captured_types AS
SELECT f.function, t.typ::regtype AS captured_type
FROM pg_temp.security_functions AS f
JOIN pg_proc AS p ON p.oid = f.function
CROSS JOIN LATERAL unnest(p.proallargtypes || p.proargtypes::oid[] || p.prorettype) AS t(typ)
JOIN pg_type AS ty ON ty.oid = t.typ
WHERE ty.typnamespace <> 'pg_catalog'::regnamespace
   OR p.pronamespace <> 'public'::regnamespace;
SELECT * FROM pg_temp.security_captured_types;
SELECT count(*) AS functions FROM pg_temp.security_functions;

-- The functions work, called by their qualified names.
SELECT public.hacienda_try_acquire('security_hostile', 2) AS granted;
SELECT public.hacienda_acquire(0, 'security_hostile') AS granted;
SELECT allowed, remaining FROM public.hacienda_throttle('security_hostile');
SELECT tokens::int AS tokens, total_requests FROM public.hacienda_status('security_hostile');
SELECT key, total_requests, configured
FROM public.hacienda_buckets
WHERE key = 'security_hostile';
SELECT count(*) AS hostile_calls FROM regress_hostile.calls;

--
-- The same for version 1.0 and the upgrade script that walks it to 1.1.
--
DROP EXTENSION hacienda_ratelimit;
CREATE EXTENSION hacienda_ratelimit VERSION '1.0' SCHEMA public;
ALTER EXTENSION hacienda_ratelimit UPDATE TO '1.1';
SELECT e.extversion, n.nspname AS schema
FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'hacienda_ratelimit';
SELECT count(*) AS hostile_calls FROM regress_hostile.calls;
SELECT DISTINCT d.refobjid::regprocedure AS view_calls
FROM pg_rewrite AS r
JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
WHERE r.ev_class = 'public.hacienda_buckets'::regclass
  AND d.refclassid = 'pg_proc'::regclass;
SELECT * FROM pg_temp.security_captured_types;
SELECT count(*) AS functions FROM pg_temp.security_functions;
SELECT public.hacienda_try_acquire('security_hostile') AS granted;
SELECT tokens::int AS tokens, total_requests FROM public.hacienda_status('security_hostile');
SELECT count(*) AS hostile_calls FROM regress_hostile.calls;

--
-- Clean up: the default search_path, a fresh install of the default version
-- in public, and no hostile schema, temporary relation or role left behind.
--
RESET search_path;
DROP EXTENSION hacienda_ratelimit;
CREATE EXTENSION hacienda_ratelimit;
SELECT e.extversion = e2.default_version AS default_version, n.nspname AS schema
FROM pg_extension AS e
JOIN pg_namespace AS n ON n.oid = e.extnamespace
JOIN pg_available_extensions AS e2 ON e2.name = e.extname
WHERE e.extname = 'hacienda_ratelimit';
DROP SCHEMA regress_hostile CASCADE;
DROP TABLE pg_temp.void, pg_temp.record;
DROP VIEW security_captured_types, security_functions;
DROP ROLE regress_security_plain;
SELECT hacienda_try_acquire('security_plain') AS granted;
