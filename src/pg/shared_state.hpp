/*
 * shared_state.hpp
 *		The shared table of named buckets.
 */
#ifndef HACIENDA_PG_SHARED_STATE_HPP
#define HACIENDA_PG_SHARED_STATE_HPP

#include <type_traits>

#include "postgres_headers.hpp"

#include "limits.hpp"
#include "settings.hpp"
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
	slock_t mutex;            /* protects every field below */
	bool configured;          /* own limits set by hacienda_configure */
	Limits configured_limits; /* valid when configured */
	TokenBucket bucket;
};

static_assert(std::is_trivially_copyable<BucketEntry>::value, "BucketEntry lives in shared memory");
static_assert(std::is_standard_layout<BucketEntry>::value, "BucketEntry lives in shared memory");

/* Counters of buckets that were evicted to make room, summed. */
struct EvictedTotals
{
	uint64 buckets;
	uint64 granted;
	uint64 rejected;
};

/*
 * The limits a bucket works under now.  A bucket under the defaults that has
 * not yet seen the defaults in force switches to them first, as of the moment
 * they took effect, so that the time since then refills under them however
 * long the bucket went unused.  defaults comes from default_limits(); the
 * caller holds entry->mutex.
 */
inline Limits
entry_limits(BucketEntry *entry, const Limits &defaults)
{
	if (entry->configured)
		return entry->configured_limits;
	if (entry->bucket.limits != defaults)
		bucket_switch_limits(entry->bucket, defaults, default_limits_since_ns());
	return defaults;
}

/*
 * Where a waiting session keeps its reservation, so that a waiter ahead of it
 * that gives up can move it up the queue and wake it.  There is one per
 * backend; see the locking protocol in shared_state.cpp.
 */
struct WaiterSlot
{
	const BucketEntry *entry; /* the bucket waited on, or NULL */
	uint64 ticket;            /* see bucket_reserve */
	Latch *latch;             /* set when the ticket moves up */
};

/* Install the shared memory hooks; called from _PG_init while preloading. */
void install_shared_state_hooks();

/* Raise an ERROR unless the library was preloaded and its memory exists. */
void require_shared_state();

/*
 * Return the bucket for key with the table lock held, creating the bucket
 * (full, under limits) if it does not exist yet; when the table is full, an
 * idle bucket without limits of its own makes room.  Returns NULL with no
 * lock held if no room can be made.  The caller releases with unlock_buckets().
 */
BucketEntry *lock_bucket_for_update(const BucketKey *key, const Limits &limits, int64 now_ns);

/*
 * Return the bucket for key, or NULL if it has none, with the table lock held
 * in shared mode either way.  The caller releases with unlock_buckets().
 */
BucketEntry *lock_bucket_for_reading(const BucketKey *key);

/*
 * Take the table lock in shared mode for a scan with hash_seq_search; the
 * caller releases with unlock_buckets().
 */
void lock_buckets_for_scan(HASH_SEQ_STATUS *scan);

/*
 * Return the bucket for key, or NULL if it has none, with the table lock held
 * exclusively either way.  The caller releases with unlock_buckets().
 */
BucketEntry *lock_bucket_exclusively(const BucketKey *key);

/* Take the table lock in shared mode, for evicted_totals(). */
void lock_buckets_shared();

void unlock_buckets();

/* The totals of evicted buckets; the caller holds the table lock. */
EvictedTotals evicted_totals();

/* The anchor of wall_time_of() and monotonic_time_of(); see clock.hpp. */
int64 wall_clock_anchor();

/*
 * This session's waiter slot.  Raises an ERROR in a process that has none,
 * so call it before taking any lock.
 */
WaiterSlot *my_waiter_slot();

/*
 * Record that this session waits on entry with ticket.  The caller holds the
 * table lock and entry's spinlock.
 */
void enter_queue(const BucketEntry *entry, uint64 ticket);

/*
 * A reservation of tokens holding ticket on entry was given back: move up the
 * waiters behind it and wake them.  The caller holds the table lock
 * exclusively.
 */
void close_gap_behind(const BucketEntry *entry, uint64 ticket, int32 tokens);

/*
 * Publish the default limits for every backend.  Only the postmaster calls
 * this, when it creates shared memory and when it reloads its settings, so
 * all backends follow a reload at the same moment, statements already
 * running included.  Does nothing before shared memory exists.
 */
void publish_default_limits(const Limits &limits);

/*
 * The default limits the postmaster published, and the monotonic clock at
 * which they took effect.  Returns false if there are none to read: shared
 * memory does not exist, or a write never finished.
 */
bool read_default_limits(Limits *limits, int64 *since_ns);

/*
 * Wake every session waiting on key's bucket, so that each looks again at
 * when its reservation is due: after a reset or a change of limits.  Takes
 * the table lock exclusively; the caller holds no lock.
 */
void wake_waiters(const BucketKey *key);

/* The number of buckets in the table now; the caller holds the table lock. */
long bucket_count();

/* The number of buckets shared memory holds at most. */
int bucket_capacity();

/* The lock that serialises writers of the state file; see shared_state.cpp. */
LWLock *config_lock();

/* Restore the evicted totals; only while loading saved state. */
void set_evicted_totals(const EvictedTotals &totals);

} /* namespace hacienda */

#endif /* HACIENDA_PG_SHARED_STATE_HPP */
