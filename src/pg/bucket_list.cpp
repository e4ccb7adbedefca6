/*
 * bucket_list.cpp
 *		hacienda_bucket_list(), behind the hacienda_buckets view.
 *
 * The table lock is taken in shared mode and each bucket is copied under its
 * spinlock, so a monitoring poll never holds up callers; the rows are built
 * after every lock is released.
 */
#include "postgres_headers.hpp"

#include "boundary.hpp"
#include "bucket_view.hpp"
#include "clock.hpp"
#include "settings.hpp"

namespace hacienda
{

namespace
{

Datum
bucket_list(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	Limits defaults;
	BucketView *views;
	int count = 0;
	HASH_SEQ_STATUS scan;
	BucketEntry *entry;
	int64 now_ns;

	require_shared_state();
	InitMaterializedSRF(fcinfo, 0);
	defaults = default_limits();

	/* Room for the whole table is reserved before the lock is taken. */
	views = static_cast<BucketView *>(palloc_extended(
		sizeof(BucketView) * static_cast<Size>(bucket_capacity()), MCXT_ALLOC_HUGE));

	lock_buckets_for_scan(&scan);
	while ((entry = static_cast<BucketEntry *>(hash_seq_search(&scan))) != NULL)
		views[count++] = view_entry(entry, defaults);
	unlock_buckets();

	now_ns = monotonic_now_ns();
	for (int i = 0; i < count; i++)
	{
		Datum values[kStatusColumns + 1];
		bool nulls[kStatusColumns + 1];

		status_columns(views[i], now_ns, values, nulls);
		values[kStatusColumns] = BoolGetDatum(views[i].configured);
		nulls[kStatusColumns] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	pfree(views);
	return (Datum)0;
}

Datum
evicted(FunctionCallInfo fcinfo)
{
	TupleDesc tupdesc;
	EvictedTotals totals;
	Datum values[3];
	bool nulls[3] = {false, false, false};

	require_shared_state();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	lock_buckets_shared();
	totals = evicted_totals();
	unlock_buckets();

	values[0] = Int64GetDatum(static_cast<int64>(totals.buckets));
	values[1] = Int64GetDatum(static_cast<int64>(totals.granted));
	values[2] = Int64GetDatum(static_cast<int64>(totals.rejected));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

} /* namespace */

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_bucket_list, hacienda::bucket_list)
HACIENDA_SQL_FUNCTION(hacienda_evicted, hacienda::evicted)
