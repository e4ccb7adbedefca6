/* hacienda_ratelimit_compat--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION hacienda_ratelimit_compat" to load this file. \quit

--
-- The view takes the name of the old table, so the table must be out of the
-- way first, in every schema: left in another one, the application would go
-- on reading it, or the view, depending on its search_path.  CREATE VIEW
-- would only notice it in this schema; this says what to do about it.
--
DO $guard$
DECLARE
	existing pg_catalog.text;
BEGIN
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO existing
	FROM pg_catalog.pg_class AS c
	JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
	WHERE c.relname = 'l10n_cr_hacienda_rate_limit_state' AND c.relpersistence <> 't'
	ORDER BY n.nspname
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'relation "%" already exists', existing
			USING ERRCODE = 'duplicate_table',
				DETAIL = 'The view of the same name takes the place of the table of the '
					'table-based limiter, in whichever schema the application finds it.',
				HINT = 'Rename the table first, for example to '
					'l10n_cr_hacienda_rate_limit_state_old, and carry its counters over '
					'with hacienda_import_table_state once the extension exists.';
	END IF;
END
$guard$;

--
-- The counters carried over from the old table, one row per key.  A table, not
-- shared memory: the carry-over happens once, and must be durable and
-- transactional.  The view adds these counts to the live ones.
--
CREATE TABLE @extschema@.hacienda_carried_counters (
	key pg_catalog.text PRIMARY KEY,
	old_id pg_catalog.int4 NOT NULL UNIQUE
		CHECK (old_id BETWEEN 1 AND 1073741823),
	total_requests pg_catalog.int8 NOT NULL DEFAULT 0 CHECK (total_requests >= 0),
	rejected_requests pg_catalog.int8 NOT NULL DEFAULT 0 CHECK (rejected_requests >= 0),
	last_request pg_catalog.timestamptz
);

COMMENT ON TABLE @extschema@.hacienda_carried_counters IS
'counters carried over from the table of the table-based limiter, one row per key';
COMMENT ON COLUMN @extschema@.hacienda_carried_counters.old_id IS
'the key''s id in the old table, shown as its id by l10n_cr_hacienda_rate_limit_state';

-- pg_dump keeps the rows: they exist nowhere else.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.hacienda_carried_counters', '');

--
-- Carry the rows of an old table over: their counters into
-- hacienda_carried_counters, and their limits, where they differ from the
-- current defaults, into hacienda_configure.  Every row is checked before
-- anything changes.  The table is read, never changed.
--
CREATE FUNCTION @extschema@.hacienda_import_table_state(old_table pg_catalog.regclass)
RETURNS pg_catalog.int4
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $import$
DECLARE
	wanted constant pg_catalog.text[] := ARRAY['id', 'key', 'capacity', 'refill_rate',
		'total_requests', 'rejected_requests', 'last_request'];
	wanted_type constant pg_catalog.regtype[] := ARRAY['int4', 'varchar', 'int4', 'float8',
		'int4', 'int4', 'timestamp']::pg_catalog.regtype[];
	found_type pg_catalog.regtype;
	default_capacity pg_catalog.int4;
	default_rate pg_catalog.float8;
	bad record;
	carried pg_catalog.int4;
	limit_row record;
	limited pg_catalog.text[] := '{}';
BEGIN
	-- The shape: a table with the columns the old limiter kept, of its types
	-- (the key may also be text).
	IF old_table IS NULL THEN
		RAISE EXCEPTION 'argument "old_table" must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_class AS c
	               WHERE c.oid = old_table AND c.relkind IN ('r', 'p')) THEN
		RAISE EXCEPTION '"%" is not a table', old_table
			USING ERRCODE = 'wrong_object_type',
				HINT = 'Name the table of the table-based limiter, renamed.';
	END IF;
	FOR i IN 1 .. pg_catalog.array_length(wanted, 1) LOOP
		SELECT a.atttypid INTO found_type
		FROM pg_attribute AS a
		WHERE a.attrelid = old_table AND a.attname = wanted[i]
		  AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist', wanted[i], old_table
				USING ERRCODE = 'undefined_column',
					DETAIL = 'The table of the table-based limiter has the columns '
						'id, key, capacity, refill_rate, total_requests, '
						'rejected_requests and last_request.';
		END IF;
		IF found_type <> wanted_type[i]
		   AND NOT (wanted[i] = 'key' AND found_type = 'text'::regtype) THEN
			RAISE EXCEPTION 'column "%" of relation "%" is of type %',
				wanted[i], old_table, found_type
				USING ERRCODE = 'datatype_mismatch',
					DETAIL = pg_catalog.format('In the table of the table-based limiter '
						'it is of type %s.', wanted_type[i]);
		END IF;
	END LOOP;

	-- The rows, read once into a temporary table that the checks and the
	-- carry-over share.  Limits that differ from the current defaults become
	-- the key's own; settings that are missing (the library is not loaded)
	-- differ from everything, so hacienda_configure reports it.
	default_capacity := pg_catalog.current_setting('hacienda_ratelimit.capacity', true)::int4;
	default_rate := pg_catalog.current_setting('hacienda_ratelimit.refill_rate', true)::float8;
	EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE hacienda_import_rows ON COMMIT DROP AS '
		'SELECT id, key::text AS key, capacity, refill_rate, total_requests, '
		'rejected_requests, last_request, '
		'capacity IS DISTINCT FROM %L::int4 OR refill_rate IS DISTINCT FROM %L::float8 '
		'AS own_limits, NULL::bool AS was_configured, NULL::int4 AS was_capacity, '
		'NULL::float8 AS was_rate FROM %s', default_capacity, default_rate, old_table);

	-- Every row names one key, once, by a key the extension accepts.
	SELECT * INTO bad FROM pg_temp.hacienda_import_rows AS r
	WHERE r.id IS NULL OR r.key IS NULL LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'column "%" of relation "%" contains null values',
			CASE WHEN bad.id IS NULL THEN 'id' ELSE 'key' END, old_table
			USING ERRCODE = 'not_null_violation';
	END IF;
	SELECT r.key INTO bad FROM pg_temp.hacienda_import_rows AS r
	GROUP BY r.key HAVING pg_catalog.count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'relation "%" has more than one row for key "%"', old_table, bad.key
			USING ERRCODE = 'unique_violation';
	END IF;
	SELECT r.id INTO bad FROM pg_temp.hacienda_import_rows AS r
	GROUP BY r.id HAVING pg_catalog.count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'relation "%" has more than one row with id %', old_table, bad.id
			USING ERRCODE = 'unique_violation';
	END IF;
	SELECT r.key INTO bad FROM pg_temp.hacienda_import_rows AS r
	WHERE r.key = '' OR pg_catalog.octet_length(pg_catalog.convert_to(r.key, 'UTF8')) > 255
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'key "%" of relation "%" is not a valid rate-limit key',
			bad.key, old_table
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'A key is 1 to 255 bytes long in UTF-8.';
	END IF;

	-- Ids and counts the carried counters can hold.  Ids above the range are
	-- the view's, for keys the old table never had.
	SELECT r.key, r.id INTO bad FROM pg_temp.hacienda_import_rows AS r
	WHERE r.id NOT BETWEEN 1 AND 1073741823
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'id % of key "%" is out of range', bad.id, bad.key
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'An id runs from 1 to 1073741823.';
	END IF;
	SELECT r.key, r.total_requests, r.rejected_requests INTO bad
	FROM pg_temp.hacienda_import_rows AS r
	WHERE r.total_requests < 0 OR r.rejected_requests < 0
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'counters of key "%" are negative', bad.key
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = pg_catalog.format('total_requests is %s and rejected_requests %s.',
					bad.total_requests, bad.rejected_requests);
	END IF;

	-- Nothing is carried over twice: that would count the same requests again.
	SELECT c.key INTO bad FROM @extschema@.hacienda_carried_counters AS c
	JOIN pg_temp.hacienda_import_rows AS r ON r.key = c.key LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'counters of key "%" were already carried over', bad.key
			USING ERRCODE = 'unique_violation',
				HINT = 'Delete the key''s row from hacienda_carried_counters to carry '
					'it over again.';
	END IF;
	SELECT c.key, c.old_id INTO bad FROM @extschema@.hacienda_carried_counters AS c
	JOIN pg_temp.hacienda_import_rows AS r ON r.id = c.old_id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'id % is already shown for key "%"', bad.old_id, bad.key
			USING ERRCODE = 'unique_violation';
	END IF;

	-- The ranges hacienda_configure accepts: checking them first means a bad
	-- row changes no limit.
	SELECT r.key, r.capacity, r.refill_rate INTO bad FROM pg_temp.hacienda_import_rows AS r
	WHERE r.own_limits
	  AND (r.capacity IS NULL OR r.capacity NOT BETWEEN 1 AND 1000000
	       OR r.refill_rate IS NULL OR NOT r.refill_rate BETWEEN 0.001 AND 1000000)
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'limits of key "%" are out of range', bad.key
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = pg_catalog.format('The capacity is %s and the refill rate %s; '
					'a capacity runs from 1 to 1000000 tokens and a rate from 0.001 to '
					'1000000 tokens per second.',
					coalesce(bad.capacity::text, 'null'),
					coalesce(bad.refill_rate::text, 'null'));
	END IF;

	-- The counters first: if a limit then fails, the statement's error takes
	-- them back, and running the import again finds nothing carried yet.
	-- Old times are UTC without a time zone.
	INSERT INTO @extschema@.hacienda_carried_counters
		(key, old_id, total_requests, rejected_requests, last_request)
	SELECT r.key, r.id, coalesce(r.total_requests, 0),
		coalesce(r.rejected_requests, 0), r.last_request AT TIME ZONE 'UTC'
	FROM pg_temp.hacienda_import_rows AS r;
	GET DIAGNOSTICS carried = ROW_COUNT;

	-- Limits live in shared memory, which no rollback restores.  If one
	-- cannot be set (no room for another bucket, say), those set already are
	-- put back as they were, and the error goes on and takes the counters.
	UPDATE pg_temp.hacienda_import_rows AS r
	SET was_configured = b.configured, was_capacity = b.capacity, was_rate = b.refill_rate
	FROM hacienda_buckets AS b
	WHERE b.key = r.key AND r.own_limits;
	BEGIN
		FOR limit_row IN SELECT r.key, r.capacity, r.refill_rate
		           FROM pg_temp.hacienda_import_rows AS r
		           WHERE r.own_limits
		           ORDER BY r.key LOOP
			PERFORM hacienda_configure(limit_row.key, limit_row.capacity, limit_row.refill_rate);
			limited := limited || limit_row.key;
		END LOOP;
	EXCEPTION WHEN OTHERS THEN
		FOR limit_row IN SELECT r.key, r.was_configured, r.was_capacity, r.was_rate
		           FROM pg_temp.hacienda_import_rows AS r
		           WHERE r.key = ANY (limited) LOOP
			IF limit_row.was_configured THEN
				PERFORM hacienda_configure(limit_row.key, limit_row.was_capacity,
					limit_row.was_rate);
			ELSE
				PERFORM hacienda_unconfigure(limit_row.key);
			END IF;
		END LOOP;
		RAISE;
	END;

	DROP TABLE pg_temp.hacienda_import_rows;
	RETURN carried;
END
$import$;

COMMENT ON FUNCTION @extschema@.hacienda_import_table_state(pg_catalog.regclass) IS
'carry the counters and limits of the table-based limiter''s table over; returns the keys carried';

-- It gives keys limits of their own and writes counts everyone sees:
-- administrators only.
REVOKE ALL ON FUNCTION @extschema@.hacienda_import_table_state(pg_catalog.regclass)
	FROM PUBLIC;

--
-- The old table's name, columns, order and types, from the live buckets.
--
-- A PostgreSQL 15 script has no placeholder for a required extension's
-- schema, and during CREATE EXTENSION the target schema is searched before
-- hacienda_ratelimit's, so an object of the same name there would be picked
-- up instead.  The schemas of both extensions are therefore read from
-- pg_extension and written into the definitions.
--
DO $view$
DECLARE
	main_schema pg_catalog.name;
	own_schema pg_catalog.name;
BEGIN
	SELECT n.nspname INTO STRICT main_schema
	FROM pg_catalog.pg_extension AS e
	JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
	WHERE e.extname = 'hacienda_ratelimit';
	SELECT n.nspname INTO STRICT own_schema
	FROM pg_catalog.pg_extension AS e
	JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
	WHERE e.extname = 'hacienda_ratelimit_compat';

	-- Version 1.0 of hacienda_ratelimit has no view of every bucket.
	IF pg_catalog.to_regclass(pg_catalog.format('%I.hacienda_buckets', main_schema)) IS NULL THEN
		RAISE EXCEPTION 'extension "hacienda_ratelimit" must be at version 1.1 or later'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Update it with ALTER EXTENSION hacienda_ratelimit UPDATE.';
	END IF;

	-- Rows: every bucket this database can name, and the carried keys that have
	-- no bucket now, shown as hacienda_status shows them, creating nothing.
	-- The live buckets are read once, for both halves.
	EXECUTE pg_catalog.format($definition$
CREATE VIEW %2$I.l10n_cr_hacienda_rate_limit_state AS
WITH live AS (
	SELECT b.key, b.tokens, b.capacity, b.refill_rate, b.total_requests,
	       b.rejected_requests, b.last_request
	FROM %1$I.hacienda_buckets AS b
	WHERE b.key IS NOT NULL
), shown AS (
	SELECT l.*, c.old_id, c.total_requests AS carried_total,
	       c.rejected_requests AS carried_rejected, c.last_request AS carried_last
	FROM live AS l
	LEFT JOIN %2$I.hacienda_carried_counters AS c ON c.key = l.key
	UNION ALL
	SELECT s.key, s.tokens, s.capacity, s.refill_rate, s.total_requests,
	       s.rejected_requests, s.last_request, c.old_id, c.total_requests,
	       c.rejected_requests, c.last_request
	FROM %2$I.hacienda_carried_counters AS c
	CROSS JOIN LATERAL %1$I.hacienda_status(c.key) AS s
	WHERE NOT EXISTS (SELECT FROM live AS l WHERE l.key = c.key)
)
SELECT
	coalesce(old_id, 1073741824 + (('x' || pg_catalog.left(
		pg_catalog.md5(pg_catalog.convert_to(key, 'UTF8')), 8))::bit(32)::int4
		& 1073741823))::int4 AS id,
	key::varchar AS key,
	tokens,
	capacity,
	refill_rate,
	(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC') AS last_refill,
	least(coalesce(carried_total, 0) + total_requests,
		2147483647)::int4 AS total_requests,
	least(coalesce(carried_rejected, 0) + rejected_requests,
		2147483647)::int4 AS rejected_requests,
	(greatest(last_request, carried_last) AT TIME ZONE 'UTC') AS last_request
FROM shown
$definition$, main_schema, own_schema);

	-- The import calls hacienda_configure by name: pin the path to it.
	EXECUTE pg_catalog.format('ALTER FUNCTION '
		'%2$I.hacienda_import_table_state(pg_catalog.regclass) '
		'SET search_path = pg_catalog, %1$I, pg_temp', main_schema, own_schema);
END
$view$;

COMMENT ON VIEW @extschema@.l10n_cr_hacienda_rate_limit_state IS
'the table of the table-based limiter, as a view of the shared buckets and the carried counters';
COMMENT ON COLUMN @extschema@.l10n_cr_hacienda_rate_limit_state.id IS
'the old id of a carried key; for other keys 1073741824 plus 30 bits of the MD5 of the key';
COMMENT ON COLUMN @extschema@.l10n_cr_hacienda_rate_limit_state.last_refill IS
'when tokens was computed: the time of reading, UTC';
COMMENT ON COLUMN @extschema@.l10n_cr_hacienda_rate_limit_state.total_requests IS
'carried plus live grants, capped at 2147483647';
COMMENT ON COLUMN @extschema@.l10n_cr_hacienda_rate_limit_state.rejected_requests IS
'carried plus live refusals, capped at 2147483647';
COMMENT ON COLUMN @extschema@.l10n_cr_hacienda_rate_limit_state.last_request IS
'time of the last grant, carried or live, UTC';

-- Anyone who may read the buckets may read them here.
GRANT SELECT ON @extschema@.l10n_cr_hacienda_rate_limit_state TO PUBLIC;
