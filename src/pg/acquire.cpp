/*
 * acquire.cpp
 *		hacienda_try_acquire() and hacienda_acquire().
 *
 * A token is spent the moment it is granted, like a sequence value: the
 * caller's transaction rolling back does not return it.
 */
#include "postgres_headers.hpp"

#include "acquire.hpp"
#include "arguments.hpp"
#include "boundary.hpp"
#include "clock.hpp"
#include "key_encoding.hpp"
#include "reports.hpp"
#include "settings.hpp"
#include "waiting.hpp"

namespace hacienda
{

namespace
{

Datum
try_acquire(FunctionCallInfo fcinfo)
{
	BucketKey key;
	int32 tokens;
	Request request;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	tokens = fetch_tokens(fcinfo, 1);
	require_primary("acquire rate-limit tokens");

	request = run_request(&key, tokens, RequestKind::Take, 0);
	PG_RETURN_BOOL(request.decision.outcome == Outcome::Granted);
}

Datum
acquire(FunctionCallInfo fcinfo)
{
	BucketKey key;
	int32 tokens;
	int64 timeout_ns;
	WaiterSlot *slot;
	Request request;

	require_shared_state();
	timeout_ns = fetch_timeout_ns(fcinfo, 0);
	fetch_key(fcinfo, 1, &key);
	tokens = fetch_tokens(fcinfo, 2);
	require_primary("acquire rate-limit tokens");
	slot = my_waiter_slot();

	request = run_request(&key, tokens, RequestKind::Reserve, timeout_ns);
	if (request.decision.outcome == Outcome::Refused)
		report_timeout(&key, tokens, timeout_ns, request.decision.wait_ns);
	if (request.decision.outcome == Outcome::MustWait)
		wait_for_reservation(&key, tokens, slot, request.decision, timeout_ns);

	PG_RETURN_BOOL(true);
}

/* The capacity key works under now: its own, or the default if it has no bucket. */
int64
current_capacity(const BucketKey *key, const Limits &defaults)
{
	BucketEntry *entry = lock_bucket_for_reading(key);
	int64 capacity = defaults.capacity;

	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		capacity = entry_limits(entry, defaults).capacity;
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();
	return capacity;
}

} /* namespace */

Request
run_request(const BucketKey *key, int32 tokens, RequestKind kind, int64 max_wait_ns)
{
	Limits defaults = default_limits();
	int64 now_ns;
	BucketEntry *entry;
	Request request;

	/*
	 * A request larger than the default capacity is refused before a bucket
	 * is created for it, unless the key has a bucket with room for it.
	 */
	if (tokens > defaults.capacity)
	{
		int64 capacity = current_capacity(key, defaults);

		if (tokens > capacity)
			report_oversized(key, tokens, capacity);
	}

	now_ns = monotonic_now_ns();
	entry = lock_bucket_for_update(key, defaults, now_ns);
	if (entry == NULL)
		report_table_full();

	SpinLockAcquire(&entry->mutex);
	request.limits = entry_limits(entry, defaults);
	request.oversized = tokens > request.limits.capacity;
	if (request.oversized)
		request.decision = {Outcome::Refused, 0, now_ns, 0};
	else if (kind == RequestKind::Reserve)
		request.decision =
			bucket_reserve(entry->bucket, request.limits, now_ns, tokens, max_wait_ns);
	else if (bucket_try_take(entry->bucket, request.limits, now_ns, tokens))
		request.decision = {Outcome::Granted, 0, now_ns, 0};
	else
		request.decision = {Outcome::Refused, 0, now_ns, 0};
	if (request.decision.outcome == Outcome::MustWait)
		enter_queue(entry, request.decision.ticket);
	if (kind == RequestKind::Throttle)
		request.after = bucket_peek(entry->bucket, request.limits, now_ns);
	if (kind == RequestKind::Throttle && request.decision.outcome == Outcome::Refused &&
		!request.oversized)
		request.decision.wait_ns = bucket_wait_for(entry->bucket, request.limits, now_ns, tokens);
	SpinLockRelease(&entry->mutex);

	unlock_buckets();

	if (request.oversized)
		report_oversized(key, tokens, request.limits.capacity);
	return request;
}

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_try_acquire, hacienda::try_acquire)
HACIENDA_SQL_FUNCTION(hacienda_acquire, hacienda::acquire)
