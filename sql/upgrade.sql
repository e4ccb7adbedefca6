--
-- Every released version installs, and ALTER EXTENSION walks to the newest.
-- At each step the functions and views of the extension have the expected
-- signatures, privileges and comments, and no object of it lacks a comment.
-- The opt-in hacienda_ratelimit_compat is walked the same way.
-- This file drops the extension the earlier files used, and leaves the
-- default version installed, without hacienda_ratelimit_compat.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hacienda_ratelimit_compat, hacienda_ratelimit;
RESET client_min_messages;

-- The functions of the installed version: signature, privilege, comment.
CREATE TEMP VIEW extension_functions AS
SELECT p.oid::regprocedure::text AS function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hacienda_ratelimit');

-- The views and tables of an extension: privilege and comment.
CREATE TEMP VIEW extension_relations AS
SELECT e.extname AS extension, c.oid::regclass::text AS relation,
       CASE c.relkind WHEN 'v' THEN 'view' WHEN 'r' THEN 'table' END AS kind,
       has_table_privilege('public', c.oid, 'SELECT') AS public_select,
       obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
FROM pg_class AS c
JOIN pg_depend AS d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
JOIN pg_extension AS e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE d.deptype = 'e';

-- Every object of these extensions, of any kind, with no comment: none.
CREATE TEMP VIEW uncommented_objects AS
SELECT e.extname AS extension, pg_describe_object(d.classid, d.objid, 0) AS object
FROM pg_depend AS d
JOIN pg_extension AS e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE d.deptype = 'e' AND e.extname LIKE 'hacienda\_ratelimit%'
  AND obj_description(d.objid, d.classid::regclass::text) IS NULL;

--
-- Version 1.0, then the update script to 1.1.
--
CREATE EXTENSION hacienda_ratelimit VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';
SELECT * FROM extension_functions ORDER BY function;
SELECT relation, kind, public_select, commented FROM extension_relations
WHERE extension = 'hacienda_ratelimit' ORDER BY relation;
SELECT * FROM uncommented_objects;

-- hacienda_ratelimit_compat needs the view of every bucket, new in 1.1.
CREATE EXTENSION hacienda_ratelimit_compat;
\echo :LAST_ERROR_SQLSTATE

ALTER EXTENSION hacienda_ratelimit UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';
SELECT * FROM extension_functions ORDER BY function;
SELECT relation, kind, public_select, commented FROM extension_relations
WHERE extension = 'hacienda_ratelimit' ORDER BY relation;
SELECT * FROM uncommented_objects;

--
-- ALTER EXTENSION UPDATE with no version reaches the default version.
--
DROP EXTENSION hacienda_ratelimit;
CREATE EXTENSION hacienda_ratelimit VERSION '1.0';
ALTER EXTENSION hacienda_ratelimit UPDATE;
SELECT e.extversion, e.extversion = a.default_version AS is_default
FROM pg_extension AS e
JOIN pg_available_extensions AS a ON a.name = e.extname
WHERE e.extname = 'hacienda_ratelimit';
SELECT count(*) AS functions FROM extension_functions;
SELECT * FROM uncommented_objects;

--
-- A fresh install of the default version has the same objects.
--
DROP EXTENSION hacienda_ratelimit;
CREATE EXTENSION hacienda_ratelimit;
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit';
SELECT * FROM extension_functions ORDER BY function;
SELECT relation, kind, public_select, commented FROM extension_relations
WHERE extension = 'hacienda_ratelimit' ORDER BY relation;
SELECT * FROM uncommented_objects;
SELECT count(*) AS objects
FROM pg_depend
WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hacienda_ratelimit')
  AND deptype = 'e';

--
-- hacienda_ratelimit_compat on the default version: its import is for
-- administrators and pins its search_path, its view is open to everyone,
-- its table of carried counters to no one else, and all are commented.
--
CREATE EXTENSION hacienda_ratelimit_compat;
SELECT extversion FROM pg_extension WHERE extname = 'hacienda_ratelimit_compat';
SELECT p.oid::regprocedure AS function, l.lanname AS language,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       p.prosecdef AS security_definer,
       EXISTS (SELECT FROM unnest(p.proconfig) AS c WHERE c LIKE 'search\_path=%')
           AS pinned_search_path,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc AS p
JOIN pg_language AS l ON l.oid = p.prolang
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hacienda_ratelimit_compat')
  AND d.deptype = 'e'
ORDER BY function;
SELECT relation, kind, public_select, commented FROM extension_relations
WHERE extension = 'hacienda_ratelimit_compat' ORDER BY relation;
SELECT * FROM uncommented_objects;

-- hacienda_ratelimit cannot go while the compat extension needs it.
DROP EXTENSION hacienda_ratelimit;
\echo :LAST_ERROR_SQLSTATE
DROP EXTENSION hacienda_ratelimit_compat;
SELECT extname FROM pg_extension WHERE extname LIKE 'hacienda%' ORDER BY extname;

DROP VIEW extension_functions, extension_relations, uncommented_objects;
