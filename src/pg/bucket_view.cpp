/*
 * bucket_view.cpp
 *		Copies of buckets, and the status columns that describe them.
 */
#include "postgres_headers.hpp"

#include <cstring>

#include "bucket_view.hpp"
#include "clock.hpp"
#include "key_encoding.hpp"
#include "settings.hpp"

namespace hacienda
{

BucketView
view_entry(BucketEntry *entry, const Limits &defaults)
{
	BucketView view;

	view.key = entry->key;
	SpinLockAcquire(&entry->mutex);
	view.configured = entry->configured;
	view.limits = entry_limits(entry, defaults);
	view.bucket = entry->bucket;
	SpinLockRelease(&entry->mutex);
	return view;
}

BucketView
view_bucket(const BucketKey *key, int64 now_ns)
{
	Limits defaults = default_limits();
	BucketEntry *entry = lock_bucket_for_reading(key);
	BucketView view;

	if (entry != NULL)
		view = view_entry(entry, defaults);
	unlock_buckets();

	if (entry == NULL)
	{
		view.key = *key;
		view.configured = false;
		view.limits = defaults;
		bucket_init(view.bucket, defaults, now_ns);
	}
	return view;
}

void
status_columns(const BucketView &view, int64 now_ns, Datum *values, bool *nulls)
{
	Snapshot snap = bucket_peek(view.bucket, view.limits, now_ns);
	const TokenBucket &bucket = view.bucket;
	double tokens = snap.level > 0 ? static_cast<double>(snap.level) / kUnitsPerToken : 0.0;
	text *key = key_text_for_database(view.key.data, view.key.len);

	memset(nulls, 0, sizeof(bool) * kStatusColumns);
	values[0] = PointerGetDatum(key);
	nulls[0] = key == NULL;
	values[1] = Float8GetDatum(tokens);
	values[2] = Int32GetDatum(static_cast<int32>(view.limits.capacity));
	values[3] = Float8GetDatum(rate_to_per_second(view.limits.rate));
	values[4] = Int64GetDatum(static_cast<int64>(bucket.granted));
	values[5] = Int64GetDatum(static_cast<int64>(bucket.rejected));
	values[6] = Int32GetDatum(bucket.waiting);
	if (bucket.last_grant_ns == INT64_MIN)
		nulls[7] = true;
	else
		values[7] = TimestampTzGetDatum(wall_time_of(bucket.last_grant_ns, wall_clock_anchor()));
	values[8] = Float8GetDatum(100.0 * (1.0 - tokens / view.limits.capacity));
	values[9] = Float8GetDatum(ns_to_seconds(snap.retry_after_ns));
}

} /* namespace hacienda */
