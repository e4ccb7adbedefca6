/* hacienda_ratelimit--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hacienda_ratelimit UPDATE TO '1.1'" to load this file. \quit

CREATE FUNCTION @extschema@.hacienda_configure(
	key pg_catalog.text,
	capacity pg_catalog.int4,
	refill_rate pg_catalog.float8)
RETURNS void
AS 'MODULE_PATHNAME', 'hacienda_configure'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.hacienda_configure(pg_catalog.text, pg_catalog.int4,
	pg_catalog.float8) IS
'give one bucket limits of its own, kept across restarts';

CREATE FUNCTION @extschema@.hacienda_unconfigure(key pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'hacienda_unconfigure'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.hacienda_unconfigure(pg_catalog.text) IS
'return one bucket to the default limits';

-- Changing limits affects everyone: administrators only.
REVOKE ALL ON FUNCTION @extschema@.hacienda_configure(pg_catalog.text, pg_catalog.int4,
	pg_catalog.float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hacienda_unconfigure(pg_catalog.text) FROM PUBLIC;

CREATE FUNCTION @extschema@.hacienda_throttle(
	key pg_catalog.text DEFAULT 'default',
	tokens pg_catalog.int4 DEFAULT 1,
	OUT allowed pg_catalog.bool,
	OUT remaining pg_catalog.int4,
	OUT retry_after pg_catalog.float8,
	OUT reset_after pg_catalog.float8)
RETURNS record
AS 'MODULE_PATHNAME', 'hacienda_throttle'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.hacienda_throttle(pg_catalog.text, pg_catalog.int4) IS
'take tokens if available now, and say when the same request would succeed';

CREATE FUNCTION @extschema@.hacienda_bucket_list(
	OUT key pg_catalog.text,
	OUT tokens pg_catalog.float8,
	OUT capacity pg_catalog.int4,
	OUT refill_rate pg_catalog.float8,
	OUT total_requests pg_catalog.int8,
	OUT rejected_requests pg_catalog.int8,
	OUT waiting pg_catalog.int4,
	OUT last_request pg_catalog.timestamptz,
	OUT utilization pg_catalog.float8,
	OUT retry_after pg_catalog.float8,
	OUT configured pg_catalog.bool)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'hacienda_bucket_list'
LANGUAGE C VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.hacienda_bucket_list() IS
'list every shared bucket without consuming anything';

CREATE VIEW @extschema@.hacienda_buckets AS
	SELECT * FROM @extschema@.hacienda_bucket_list();

COMMENT ON VIEW @extschema@.hacienda_buckets IS
'every shared bucket, with whether its limits are its own or the defaults';

-- Anyone who may read a bucket's status may read them all.
GRANT SELECT ON @extschema@.hacienda_buckets TO PUBLIC;

CREATE FUNCTION @extschema@.hacienda_evicted(
	OUT buckets pg_catalog.int8,
	OUT total_requests pg_catalog.int8,
	OUT rejected_requests pg_catalog.int8)
RETURNS record
AS 'MODULE_PATHNAME', 'hacienda_evicted'
LANGUAGE C VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.hacienda_evicted() IS
'counters of the idle buckets evicted to make room, summed';
