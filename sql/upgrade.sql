--
-- Every released version installs, and ALTER EXTENSION walks to the newest.
-- This file runs last: it drops the extension the other files used.
--
DROP EXTENSION hacienda_ratelimit;

-- The functions of the installed version: signature, privilege, comment.
CREATE TEMP VIEW extension_functions AS
SELECT p.oid::regprocedure::text AS function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hacienda_ratelimit');

CREATE EXTENSION hacienda_ratelimit VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';
SELECT * FROM extension_functions ORDER BY function;

ALTER EXTENSION hacienda_ratelimit UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';
SELECT * FROM extension_functions ORDER BY function;
SELECT obj_description('hacienda_buckets'::regclass, 'pg_class') IS NOT NULL AS view_commented;

-- A fresh install of the default version has the same objects.
DROP EXTENSION hacienda_ratelimit;
CREATE EXTENSION hacienda_ratelimit;
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';
SELECT count(*) AS objects
FROM pg_depend
WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hacienda_ratelimit')
  AND deptype = 'e';
