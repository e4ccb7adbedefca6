/*
 * bucket_view.hpp
 *		Copies of buckets, and the status columns that describe them.
 */
#ifndef HACIENDA_PG_BUCKET_VIEW_HPP
#define HACIENDA_PG_BUCKET_VIEW_HPP

#include "postgres_headers.hpp"

#include "shared_state.hpp"

namespace hacienda
{

/* A bucket copied out of shared memory, to be looked at without locks. */
struct BucketView
{
	BucketKey key;
	bool configured;
	Limits limits; /* the limits the bucket works under */
	TokenBucket bucket;
};

/* The columns of hacienda_status(), in order. */
constexpr int kStatusColumns = 10;

/* Copy the bucket of key; a fresh bucket under the defaults if it has none. */
BucketView view_bucket(const BucketKey *key, int64 now_ns);

/* Copy entry; the caller holds the table lock, not the entry's spinlock. */
BucketView view_entry(BucketEntry *entry, const Limits &defaults);

/* Fill the first kStatusColumns values and nulls that describe view at now. */
void status_columns(const BucketView &view, int64 now_ns, Datum *values, bool *nulls);

} /* namespace hacienda */

#endif /* HACIENDA_PG_BUCKET_VIEW_HPP */
