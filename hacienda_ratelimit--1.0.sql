/* hacienda_ratelimit--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION hacienda_ratelimit" to load this file. \quit

CREATE FUNCTION @extschema@.hacienda_try_acquire(
	key pg_catalog.text DEFAULT 'default',
	tokens pg_catalog.int4 DEFAULT 1)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'hacienda_try_acquire'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.hacienda_try_acquire(pg_catalog.text, pg_catalog.int4) IS
'take tokens from a shared bucket if they are available now; never waits';

CREATE FUNCTION @extschema@.hacienda_acquire(
	timeout pg_catalog.float8 DEFAULT 30,
	key pg_catalog.text DEFAULT 'default',
	tokens pg_catalog.int4 DEFAULT 1)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'hacienda_acquire'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.hacienda_acquire(pg_catalog.float8, pg_catalog.text,
	pg_catalog.int4) IS
'take tokens from a shared bucket, waiting in arrival order up to timeout seconds';

CREATE FUNCTION @extschema@.hacienda_status(
	key pg_catalog.text DEFAULT 'default',
	OUT key pg_catalog.text,
	OUT tokens pg_catalog.float8,
	OUT capacity pg_catalog.int4,
	OUT refill_rate pg_catalog.float8,
	OUT total_requests pg_catalog.int8,
	OUT rejected_requests pg_catalog.int8,
	OUT waiting pg_catalog.int4,
	OUT last_request pg_catalog.timestamptz,
	OUT utilization pg_catalog.float8,
	OUT retry_after pg_catalog.float8)
RETURNS record
AS 'MODULE_PATHNAME', 'hacienda_status'
LANGUAGE C VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.hacienda_status(pg_catalog.text) IS
'show one shared bucket without consuming anything';

CREATE FUNCTION @extschema@.hacienda_reset(key pg_catalog.text DEFAULT 'default')
RETURNS void
AS 'MODULE_PATHNAME', 'hacienda_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.hacienda_reset(pg_catalog.text) IS
'refill one shared bucket to capacity';

-- Refilling a bucket lifts the limit for everyone: administrators only.
REVOKE ALL ON FUNCTION @extschema@.hacienda_reset(pg_catalog.text) FROM PUBLIC;
