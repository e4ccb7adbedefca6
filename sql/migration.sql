--
-- Migration from the table-based limiter, with hacienda_ratelimit_compat.
-- The old table's rows are carried over, and a view of the same name shows
-- the live buckets with the old columns, so queries written for the table
-- keep working.
--
-- The server runs with hacienda_ratelimit.refill_rate = 0.001 and capacity 20:
-- old rows with those limits keep the defaults, others get their own.  This
-- file uses only keys starting with "migration_", and works whether or not an
-- earlier file left hacienda_ratelimit installed.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
-- Old times are UTC without a time zone; the session's zone must not matter.
SET TimeZone = 'America/Costa_Rica';
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hacienda_ratelimit_compat;
CREATE EXTENSION IF NOT EXISTS hacienda_ratelimit;
RESET client_min_messages;

--
-- The old limiter's table, as it was defined, with three keys: two used
-- under the defaults, one with limits of its own.  A second copy of the
-- definition, never renamed, is what the view's columns are compared with.
--
CREATE TABLE l10n_cr_hacienda_rate_limit_state (
	id serial PRIMARY KEY,
	key varchar NOT NULL UNIQUE,
	tokens double precision NOT NULL,
	capacity integer NOT NULL DEFAULT 20,
	refill_rate double precision NOT NULL DEFAULT 10,
	last_refill timestamp NOT NULL,
	total_requests integer NOT NULL DEFAULT 0,
	rejected_requests integer NOT NULL DEFAULT 0,
	last_request timestamp
);
CREATE TABLE migration_old_definition (LIKE l10n_cr_hacienda_rate_limit_state);

INSERT INTO l10n_cr_hacienda_rate_limit_state
	(id, key, tokens, capacity, refill_rate, last_refill, total_requests,
	 rejected_requests, last_request)
VALUES
	(3, 'migration_company', 12.5, 20, 0.001, '2026-11-30 20:00:00', 1500, 30,
	 '2026-11-30 20:00:00'),
	(7, 'migration_token', 20, 20, 0.001, '2026-11-29 08:00:00', 10, 0, NULL),
	(8, 'migration_pos', 1, 5, 0.002, '2026-11-30 21:30:00', 200, 2,
	 '2026-11-30 21:29:59.5');

--
-- The view takes the table's name: creating the extension while the table
-- still has it fails with 42P07, and a hint to rename it.
--
CREATE EXTENSION hacienda_ratelimit_compat;
\echo :LAST_ERROR_SQLSTATE

--
-- The migration steps of README.md, verbatim.
--
CREATE EXTENSION IF NOT EXISTS hacienda_ratelimit;
BEGIN;
ALTER TABLE l10n_cr_hacienda_rate_limit_state RENAME TO l10n_cr_hacienda_rate_limit_state_old;
CREATE EXTENSION hacienda_ratelimit_compat;
SELECT hacienda_import_table_state('l10n_cr_hacienda_rate_limit_state_old');
COMMIT;

-- The carried keys, with their old ids, counts and times.
SELECT id, key, capacity, refill_rate, total_requests, rejected_requests, last_request
FROM l10n_cr_hacienda_rate_limit_state
WHERE key LIKE 'migration\_%'
ORDER BY id;

-- Once the counts look right, the old table goes.
DROP TABLE l10n_cr_hacienda_rate_limit_state_old;

--
-- The view has the old table's columns, names, order and types: the columns
-- of either that the other lacks are none.
--
CREATE TEMP VIEW column_shapes AS
SELECT table_name::text, column_name::text, ordinal_position::int, data_type::text,
       character_maximum_length::int, numeric_precision::int, datetime_precision::int
FROM information_schema.columns;

SELECT column_name, data_type FROM column_shapes
WHERE table_name = 'l10n_cr_hacienda_rate_limit_state'
ORDER BY ordinal_position;
(SELECT column_name, ordinal_position, data_type, character_maximum_length,
        numeric_precision, datetime_precision
 FROM column_shapes WHERE table_name = 'l10n_cr_hacienda_rate_limit_state'
 EXCEPT
 SELECT column_name, ordinal_position, data_type, character_maximum_length,
        numeric_precision, datetime_precision
 FROM column_shapes WHERE table_name = 'migration_old_definition')
UNION ALL
(SELECT column_name, ordinal_position, data_type, character_maximum_length,
        numeric_precision, datetime_precision
 FROM column_shapes WHERE table_name = 'migration_old_definition'
 EXCEPT
 SELECT column_name, ordinal_position, data_type, character_maximum_length,
        numeric_precision, datetime_precision
 FROM column_shapes WHERE table_name = 'l10n_cr_hacienda_rate_limit_state');
SELECT * FROM l10n_cr_hacienda_rate_limit_state WHERE false;

--
-- Limits that differed from the defaults were carried: migration_pos has its
-- own, and is full under them.  The other two keys have no bucket: the
-- import gave them none, and reading the view created none.
--
SELECT key, tokens, capacity, refill_rate, total_requests, configured
FROM hacienda_buckets
WHERE key LIKE 'migration\_%'
ORDER BY key;

--
-- New grants add to the carried counts.  migration_company takes three
-- tokens; migration_pos is granted its five and refused a sixth.
--
SELECT count(*) FILTER (WHERE hacienda_try_acquire('migration_company')) AS granted
FROM generate_series(1, 3);
SELECT count(*) FILTER (WHERE hacienda_try_acquire('migration_pos')) AS granted
FROM generate_series(1, 6);

SELECT v.id, v.key, round(v.tokens) AS tokens, v.capacity, v.total_requests,
       v.rejected_requests, b.total_requests AS live_total,
       b.rejected_requests AS live_rejected
FROM l10n_cr_hacienda_rate_limit_state AS v
LEFT JOIN hacienda_buckets AS b ON b.key = v.key
WHERE v.key LIKE 'migration\_%'
ORDER BY v.id;

-- The key with no bucket is shown as hacienda_status shows it: full, under
-- the defaults, with the carried counts alone.  Still no bucket was created.
SELECT tokens, capacity, refill_rate, total_requests, rejected_requests, last_request
FROM l10n_cr_hacienda_rate_limit_state
WHERE key = 'migration_token';
SELECT count(*) AS buckets FROM hacienda_buckets WHERE key = 'migration_token';

--
-- Times are UTC without a time zone, whatever the session's zone.  The
-- carried times were shown above as the old table had them; once a key is
-- granted again, last_request is the new grant's time in UTC.  The tokens
-- are computed when the view is read, the time last_refill shows.
--
SELECT clock_timestamp() AT TIME ZONE 'UTC' AS before_read \gset
SELECT v.key,
       v.last_request = b.last_request AT TIME ZONE 'UTC' AS last_grant_in_utc,
       v.last_request > '2026-11-30 21:29:59.5' AS after_carried,
       v.last_refill BETWEEN :'before_read'
           AND clock_timestamp() AT TIME ZONE 'UTC' AS refill_at_read
FROM l10n_cr_hacienda_rate_limit_state AS v
JOIN hacienda_buckets AS b ON b.key = v.key
WHERE v.key LIKE 'migration\_%'
ORDER BY v.key;

--
-- A key the old table never had gets an id from its name: above every old
-- id, the same in every session, and the same for the same characters in a
-- database of another encoding.
--
SELECT hacienda_try_acquire('migration_new') AS granted;
SELECT id AS new_id, id >= 1073741824 AS above_old_ids, total_requests
FROM l10n_cr_hacienda_rate_limit_state
WHERE key = 'migration_new' \gset
\echo :above_old_ids :total_requests
\c
SELECT id = :new_id AS same_id_in_new_session
FROM l10n_cr_hacienda_rate_limit_state
WHERE key = 'migration_new';
SET TimeZone = 'America/Costa_Rica';

--
-- The carried counters are in a table that pg_dump keeps, and each object of
-- the extension explains itself.
--
SELECT unnest(extconfig)::regclass AS dumped_with_data
FROM pg_extension
WHERE extname = 'hacienda_ratelimit_compat';
SELECT key, old_id, total_requests, rejected_requests,
       last_request AT TIME ZONE 'UTC' AS last_request_utc
FROM hacienda_carried_counters
ORDER BY old_id;
SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
       obj_description(d.objid, d.classid::regclass::text) IS NOT NULL AS commented
FROM pg_depend AS d
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hacienda_ratelimit_compat')
  AND d.deptype = 'e'
ORDER BY object;

--
-- The import refuses, before changing anything: keys it carried already
-- (their requests would count twice), relations that are not a table of the
-- old shape, keys, limits, ids and counts the extension does not accept,
-- and NULL.
--
CREATE TABLE migration_old AS
SELECT 1 AS id, 'migration_company'::varchar AS key, 20 AS capacity,
       0.001::float8 AS refill_rate, 5 AS total_requests, 0 AS rejected_requests,
       NULL::timestamp AS last_request;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE

UPDATE migration_old SET key = 'migration_other', id = 7;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE

UPDATE migration_old SET id = 100, key = '';
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE

UPDATE migration_old SET key = 'migration_other', capacity = 0;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE

UPDATE migration_old SET capacity = 20;
INSERT INTO migration_old SELECT 101, key, 20, 0.001, 0, 0, NULL FROM migration_old;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM migration_old WHERE id = 101;

UPDATE migration_old SET key = NULL;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE
UPDATE migration_old SET key = 'migration_other';

UPDATE migration_old SET id = 0;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE
UPDATE migration_old SET id = 1073741824;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE
UPDATE migration_old SET id = 100, rejected_requests = -1;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE
UPDATE migration_old SET rejected_requests = 0;

ALTER TABLE migration_old ALTER total_requests TYPE bigint;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE

ALTER TABLE migration_old DROP total_requests;
SELECT hacienda_import_table_state('migration_old');
\echo :LAST_ERROR_SQLSTATE

SELECT hacienda_import_table_state('l10n_cr_hacienda_rate_limit_state');
\echo :LAST_ERROR_SQLSTATE
SELECT hacienda_import_table_state(NULL);
\echo :LAST_ERROR_SQLSTATE

-- None of it carried anything or gave migration_other a bucket.
SELECT count(*) AS carried FROM hacienda_carried_counters;
SELECT count(*) AS buckets FROM hacienda_buckets WHERE key = 'migration_other';

--
-- A key may also be text, and the counters of an old table can be carried
-- in a later import; the number returned is the keys carried.
--
ALTER TABLE migration_old ADD total_requests integer;
UPDATE migration_old SET total_requests = 4;
ALTER TABLE migration_old ALTER key TYPE text;
SELECT hacienda_import_table_state('migration_old');
SELECT id, total_requests FROM l10n_cr_hacienda_rate_limit_state
WHERE key = 'migration_other';
DROP TABLE migration_old;

--
-- Privileges: a plain role reads the view, as it reads hacienda_buckets,
-- but neither imports nor reads or changes the carried counters.
--
CREATE ROLE regress_migration_plain NOLOGIN;
CREATE TABLE migration_plain_old (LIKE migration_old_definition);
GRANT SELECT ON migration_plain_old TO regress_migration_plain;
SET ROLE regress_migration_plain;
SELECT count(*) AS rows FROM l10n_cr_hacienda_rate_limit_state
WHERE key LIKE 'migration\_%';
SELECT hacienda_import_table_state('migration_plain_old');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM hacienda_carried_counters;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM hacienda_carried_counters;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT has_function_privilege('regress_migration_plain',
           'hacienda_import_table_state(regclass)', 'EXECUTE') AS can_import,
       has_table_privilege('regress_migration_plain',
           'l10n_cr_hacienda_rate_limit_state', 'SELECT') AS can_read_view;
DROP TABLE migration_plain_old, migration_old_definition;
DROP ROLE regress_migration_plain;

--
-- DROP EXTENSION takes the view, the carried counters and the import away;
-- the limits given to keys stay, as they belong to hacienda_ratelimit.
--
DROP EXTENSION hacienda_ratelimit_compat;
SELECT to_regclass('l10n_cr_hacienda_rate_limit_state') AS view,
       to_regclass('hacienda_carried_counters') AS carried_table,
       to_regprocedure('hacienda_import_table_state(regclass)') AS import;
SELECT key, configured FROM hacienda_buckets WHERE key = 'migration_pos';
SELECT hacienda_unconfigure('migration_pos');

--
-- A relation with the old table's name in any schema stops the extension:
-- depending on its search_path, the application would go on reading it.
--
CREATE SCHEMA migration_elsewhere;
CREATE TABLE migration_elsewhere.l10n_cr_hacienda_rate_limit_state (id int4);
CREATE EXTENSION hacienda_ratelimit_compat;
\echo :LAST_ERROR_SQLSTATE
DROP TABLE migration_elsewhere.l10n_cr_hacienda_rate_limit_state;
DROP SCHEMA migration_elsewhere;

--
-- In a schema of its own, the extension still reads hacienda_ratelimit's
-- objects, although CREATE EXTENSION searches the target schema first: a
-- view of the same name planted there is not picked up.
--
CREATE SCHEMA migration_compat;
CREATE VIEW migration_compat.hacienda_buckets AS
SELECT 'migration_planted'::text AS key, 0::float8 AS tokens, 1 AS capacity,
       1::float8 AS refill_rate, 0::int8 AS total_requests, 0::int8 AS rejected_requests,
       NULL::timestamptz AS last_request;
CREATE EXTENSION hacienda_ratelimit_compat SCHEMA migration_compat;
SELECT DISTINCT c.relnamespace::regnamespace AS schema, c.relname AS view_reads
FROM pg_rewrite AS r
JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_class AS c ON c.oid = d.refobjid
WHERE r.ev_class = 'migration_compat.l10n_cr_hacienda_rate_limit_state'::regclass
  AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid <> r.ev_class
ORDER BY view_reads;
SELECT count(*) AS planted_rows
FROM migration_compat.l10n_cr_hacienda_rate_limit_state
WHERE key = 'migration_planted';
SELECT proconfig AS import_settings FROM pg_proc
WHERE oid = 'migration_compat.hacienda_import_table_state(regclass)'::regprocedure;
DROP EXTENSION hacienda_ratelimit_compat;
DROP VIEW migration_compat.hacienda_buckets;
DROP SCHEMA migration_compat;
RESET TimeZone;
