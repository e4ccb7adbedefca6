/*
 * acquire.cpp
 *		hacienda_try_acquire() and hacienda_acquire().
 *
 * A token is spent the moment it is granted, like a sequence value: the
 * caller's transaction rolling back does not return it.
 */
#include "postgres_headers.hpp"

#include "arguments.hpp"
#include "boundary.hpp"
#include "clock.hpp"
#include "settings.hpp"
#include "shared_state.hpp"
#include "waiting.hpp"

namespace hacienda
{

namespace
{

/* The SQLSTATE of a wait that cannot finish within its timeout. */
#define ERRCODE_RATE_LIMIT_TIMEOUT MAKE_SQLSTATE('R', 'L', '0', '0', '1')

/* A standby's buckets would be a second, separate limit. */
void
require_primary()
{
	if (!RecoveryInProgress())
		return;

	ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					errmsg("cannot acquire rate-limit tokens during recovery"),
					errdetail("A standby server's buckets are not shared with the primary."),
					errhint("Acquire tokens on the primary server.")));
}

void
report_table_full()
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY), errmsg("too many rate-limit buckets"),
			 errdetail("All %d buckets of the shared table are in use.", max_buckets_setting()),
			 errhint("Raise \"hacienda_ratelimit.max_buckets\" and restart the server.")));
}

void
report_timeout(const BucketKey *key, int32 tokens, int64 timeout_ns, int64 wait_ns)
{
	char *timeout = float8out_internal(ns_to_seconds(timeout_ns));

	ereport(
		ERROR,
		(errcode(ERRCODE_RATE_LIMIT_TIMEOUT),
		 errmsg_plural("could not acquire %d rate-limit token from bucket \"%.*s\" within %s "
					   "seconds",
					   "could not acquire %d rate-limit tokens from bucket \"%.*s\" within %s "
					   "seconds",
					   tokens, tokens, static_cast<int>(key->len), key->data, timeout),
		 errdetail("The next slot for the request is %.3f seconds away.", ns_to_seconds(wait_ns)),
		 errhint("Retry later, or allow a longer timeout.")));
}

/* Run one request against its bucket: take, reserve, or refuse. */
Decision
decide(const BucketKey *key, const Limits &limits, int32 tokens, int64 max_wait_ns, bool may_wait)
{
	int64 now_ns = monotonic_now_ns();
	BucketEntry *entry = lock_bucket_for_update(key, limits, now_ns);
	Decision decision;

	if (entry == NULL)
		report_table_full();

	SpinLockAcquire(&entry->mutex);
	if (may_wait)
		decision = bucket_reserve(entry->bucket, limits, now_ns, tokens, max_wait_ns);
	else if (bucket_try_take(entry->bucket, limits, now_ns, tokens))
		decision = {Outcome::Granted, 0, now_ns};
	else
		decision = {Outcome::Refused, 0, now_ns};
	SpinLockRelease(&entry->mutex);

	unlock_buckets();
	return decision;
}

Datum
try_acquire(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits limits;
	int32 tokens;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	limits = default_limits();
	tokens = fetch_tokens(fcinfo, 1, limits, &key);
	require_primary();

	PG_RETURN_BOOL(decide(&key, limits, tokens, 0, false).outcome == Outcome::Granted);
}

Datum
acquire(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits limits;
	int32 tokens;
	int64 timeout_ns;
	Decision decision;

	require_shared_state();
	timeout_ns = fetch_timeout_ns(fcinfo, 0);
	fetch_key(fcinfo, 1, &key);
	limits = default_limits();
	tokens = fetch_tokens(fcinfo, 2, limits, &key);
	require_primary();

	decision = decide(&key, limits, tokens, timeout_ns, true);
	if (decision.outcome == Outcome::Refused)
		report_timeout(&key, tokens, timeout_ns, decision.wait_ns);
	if (decision.outcome == Outcome::MustWait)
		wait_for_reservation(&key, tokens, decision.ready_ns);

	PG_RETURN_BOOL(true);
}

} /* namespace */

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_try_acquire, hacienda::try_acquire)
HACIENDA_SQL_FUNCTION(hacienda_acquire, hacienda::acquire)
