/*
 * status.cpp
 *		hacienda_status() and hacienda_reset().
 */
#include "postgres_headers.hpp"

#include "arguments.hpp"
#include "boundary.hpp"
#include "bucket_view.hpp"
#include "clock.hpp"
#include "settings.hpp"

namespace hacienda
{

namespace
{

Datum
status(FunctionCallInfo fcinfo)
{
	BucketKey key;
	TupleDesc tupdesc;
	Datum values[kStatusColumns];
	bool nulls[kStatusColumns];
	int64 now_ns;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	now_ns = monotonic_now_ns();
	status_columns(view_bucket(&key, now_ns), now_ns, values, nulls);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
reset(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits defaults;
	BucketEntry *entry;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	defaults = default_limits();

	/* A key without a bucket is already as good as full. */
	entry = lock_bucket_for_reading(&key);
	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		bucket_refill(entry->bucket, entry_limits(entry, defaults), monotonic_now_ns());
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();

	/* Every reservation is due now: its owner need not sleep it out. */
	if (entry != NULL)
		wake_waiters(&key);

	PG_RETURN_VOID();
}

} /* namespace */

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_status, hacienda::status)
HACIENDA_SQL_FUNCTION(hacienda_reset, hacienda::reset)
