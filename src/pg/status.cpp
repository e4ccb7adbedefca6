/*
 * status.cpp
 *		hacienda_status() and hacienda_reset().
 */
#include "postgres_headers.hpp"

#include "arguments.hpp"
#include "boundary.hpp"
#include "clock.hpp"
#include "settings.hpp"
#include "shared_state.hpp"

namespace hacienda
{

namespace
{

enum StatusColumn
{
	COL_KEY,
	COL_TOKENS,
	COL_CAPACITY,
	COL_REFILL_RATE,
	COL_TOTAL_REQUESTS,
	COL_REJECTED_REQUESTS,
	COL_WAITING,
	COL_LAST_REQUEST,
	COL_UTILIZATION,
	COL_RETRY_AFTER,
	STATUS_COLUMNS
};

/* A copy of a bucket, taken under its lock; a fresh one if the key is unused. */
TokenBucket
copy_bucket(const BucketKey *key, const Limits &limits, int64 now_ns)
{
	BucketEntry *entry = lock_bucket_for_reading(key);
	TokenBucket copy;

	if (entry == NULL)
		bucket_init(copy, limits, now_ns);
	else
	{
		SpinLockAcquire(&entry->mutex);
		copy = entry->bucket;
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();
	return copy;
}

/* The wall-clock time of a monotonic instant, by its distance from now. */
TimestampTz
wall_time_of(int64 then_ns, int64 now_ns)
{
	int64 ago_us = (now_ns - then_ns) / 1000;

	return GetCurrentTimestamp() - ago_us;
}

Datum
status(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits limits;
	TupleDesc tupdesc;
	Datum values[STATUS_COLUMNS];
	bool nulls[STATUS_COLUMNS] = {false};
	int64 now_ns;
	TokenBucket bucket;
	Snapshot snap;
	double tokens;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* Look at the bucket as of now, under the limits it would be used with. */
	limits = default_limits();
	now_ns = monotonic_now_ns();
	bucket = copy_bucket(&key, limits, now_ns);
	snap = bucket_peek(bucket, limits, now_ns);
	tokens = snap.level > 0 ? static_cast<double>(snap.level) / kUnitsPerToken : 0.0;

	values[COL_KEY] = PointerGetDatum(cstring_to_text_with_len(key.data, key.len));
	values[COL_TOKENS] = Float8GetDatum(tokens);
	values[COL_CAPACITY] = Int32GetDatum(static_cast<int32>(limits.capacity));
	values[COL_REFILL_RATE] = Float8GetDatum(rate_to_per_second(limits.rate));
	values[COL_TOTAL_REQUESTS] = Int64GetDatum(static_cast<int64>(bucket.granted));
	values[COL_REJECTED_REQUESTS] = Int64GetDatum(static_cast<int64>(bucket.rejected));
	values[COL_WAITING] = Int32GetDatum(bucket.waiting);
	if (bucket.last_grant_ns == INT64_MIN)
		nulls[COL_LAST_REQUEST] = true;
	else
		values[COL_LAST_REQUEST] = TimestampTzGetDatum(wall_time_of(bucket.last_grant_ns, now_ns));
	values[COL_UTILIZATION] = Float8GetDatum(100.0 * (1.0 - tokens / limits.capacity));
	values[COL_RETRY_AFTER] = Float8GetDatum(ns_to_seconds(snap.retry_after_ns));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
reset(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits limits;
	BucketEntry *entry;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	limits = default_limits();

	/* A key without a bucket is already as good as full. */
	entry = lock_bucket_for_reading(&key);
	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		bucket_refill(entry->bucket, limits, monotonic_now_ns());
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();

	PG_RETURN_VOID();
}

} /* namespace */

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_status, hacienda::status)
HACIENDA_SQL_FUNCTION(hacienda_reset, hacienda::reset)
