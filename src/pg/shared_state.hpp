/*
 * shared_state.hpp
 *		The shared table of named buckets.
 */
#ifndef HACIENDA_PG_SHARED_STATE_HPP
#define HACIENDA_PG_SHARED_STATE_HPP

#include <type_traits>

#include "postgres_headers.hpp"

#include "limits.hpp"
#include "token_bucket.hpp"

namespace hacienda
{

/* A bucket's name, stored inline.  Only the first len bytes are meaningful. */
struct BucketKey
{
	uint32 len;
	char data[kMaxKeyBytes];
};

/* One hash table entry: the key must come first, as dynahash requires. */
struct BucketEntry
{
	BucketKey key;
	slock_t mutex; /* protects bucket */
	TokenBucket bucket;
};

static_assert(std::is_trivially_copyable<BucketEntry>::value, "BucketEntry lives in shared memory");
static_assert(std::is_standard_layout<BucketEntry>::value, "BucketEntry lives in shared memory");

/* Install the shared memory hooks; called from _PG_init while preloading. */
void install_shared_state_hooks();

/* Raise an ERROR unless the library was preloaded and its memory exists. */
void require_shared_state();

/* Fill a key from a text value whose length was already checked. */
void key_from_text(BucketKey *key, const text *value);

/*
 * Return the bucket for key with the table lock held, creating the bucket
 * (full, under limits) if it does not exist yet.  Returns NULL with no lock
 * held if the table is full.  The caller releases with unlock_buckets().
 */
BucketEntry *lock_bucket_for_update(const BucketKey *key, const Limits &limits, int64 now_ns);

/*
 * Return the bucket for key, or NULL if it has none, with the table lock held
 * in shared mode either way.  The caller releases with unlock_buckets().
 */
BucketEntry *lock_bucket_for_reading(const BucketKey *key);

void unlock_buckets();

} /* namespace hacienda */

#endif /* HACIENDA_PG_SHARED_STATE_HPP */
