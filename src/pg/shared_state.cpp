/*
 * shared_state.cpp
 *		The shared table of named buckets.
 *
 * Locking protocol
 * ----------------
 * Two LWLocks come from the tranche named "hacienda_ratelimit".
 *
 * The table lock guards the hash table itself:
 *	- looking a bucket up, or scanning the table, needs it in shared mode;
 *	- inserting or evicting a bucket needs it in exclusive mode.
 * Each entry has a spinlock that guards everything in it but the key.
 * Reading or changing a bucket needs the table lock in either mode plus the
 * entry's spinlock, so callers on different keys never wait for each other.
 * Code under a spinlock only calls the noexcept core.
 *
 * Each backend has a waiter slot.  Its owner fills it in when it reserves and
 * clears it when it is granted, holding the table lock and the bucket's
 * spinlock.  Reading or changing other backends' slots needs the table lock
 * exclusively, which keeps every owner out: a waiter that gives up moves the
 * slots behind it up that way, and a reset or a change of limits wakes the
 * waiters of a bucket.
 *
 * The configuration lock serialises the writers of the state file, so that
 * the file and shared memory change in the same order; it is taken before the
 * table lock, never after.
 *
 * Nothing between acquiring and releasing any of these locks raises an error.
 *
 * A bucket is evicted only when it is idle (full, nobody waiting) and has no
 * limits of its own: it then equals a fresh bucket, apart from its counters,
 * which are added to the evicted totals.  So a waiter can always find its
 * bucket again by key.
 */
#include "postgres_headers.hpp"

#include <cstring>

#include "clock.hpp"
#include "persistence.hpp"
#include "settings.hpp"
#include "shared_state.hpp"

namespace hacienda
{

namespace
{

constexpr const char *kTrancheName = "hacienda_ratelimit";

struct SharedHeader
{
	LWLock *table_lock;
	LWLock *config_lock;
	EvictedTotals evicted; /* under table_lock, exclusive to change */
	int64 clock_anchor_us; /* see clock_anchor_us(); set once at creation */

	/*
	 * The default limits as the postmaster last read them, written by the
	 * postmaster alone and read without a lock: the version is odd while a
	 * write is under way, and changes with every write.
	 */
	pg_atomic_uint64 defaults_version;
	int64 default_capacity;
	int64 default_rate;
	int64 defaults_since_ns; /* monotonic clock when they took effect */
};

/* How often a reader retries while the postmaster is writing the defaults. */
constexpr int kDefaultsReadTries = 1000;

SharedHeader *shared_header = NULL;
HTAB *bucket_table = NULL;
WaiterSlot *waiter_slots = NULL; /* MaxBackends of them, indexed by backend id - 1 */

shmem_request_hook_type prev_shmem_request_hook = NULL;
shmem_startup_hook_type prev_shmem_startup_hook = NULL;

Size
waiter_slots_size()
{
	return mul_size(MaxBackends, sizeof(WaiterSlot));
}

Size
shared_size()
{
	Size size = add_size(MAXALIGN(sizeof(SharedHeader)), MAXALIGN(waiter_slots_size()));

	return add_size(size, hash_estimate_size(max_buckets_setting(), sizeof(BucketEntry)));
}

/* dynahash callbacks: only the first len bytes of a key count. */
uint32
key_hash(const void *key, Size)
{
	const BucketKey *k = static_cast<const BucketKey *>(key);

	return hash_bytes(reinterpret_cast<const unsigned char *>(k->data), static_cast<int>(k->len));
}

int
key_compare(const void *key1, const void *key2, Size)
{
	const BucketKey *a = static_cast<const BucketKey *>(key1);
	const BucketKey *b = static_cast<const BucketKey *>(key2);

	if (a->len != b->len)
		return 1;
	return memcmp(a->data, b->data, a->len);
}

void
request_shared_memory()
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche(kTrancheName, 2);
}

void
create_shared_memory()
{
	HASHCTL info;
	bool found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	shared_header = static_cast<SharedHeader *>(
		ShmemInitStruct("hacienda_ratelimit", sizeof(SharedHeader), &found));
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(kTrancheName);

		memset(shared_header, 0, sizeof(*shared_header));
		shared_header->table_lock = &locks[0].lock;
		shared_header->config_lock = &locks[1].lock;
		shared_header->clock_anchor_us = clock_anchor_us(monotonic_now_ns(), GetCurrentTimestamp());
		pg_atomic_init_u64(&shared_header->defaults_version, 0);
		publish_default_limits(setting_limits());
	}

	waiter_slots = static_cast<WaiterSlot *>(
		ShmemInitStruct("hacienda_ratelimit waiters", waiter_slots_size(), &found));
	if (!found)
		memset(waiter_slots, 0, waiter_slots_size());

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(BucketKey);
	info.entrysize = sizeof(BucketEntry);
	info.hash = key_hash;
	info.match = key_compare;
	bucket_table =
		ShmemInitHash("hacienda_ratelimit buckets", max_buckets_setting(), max_buckets_setting(),
					  &info, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_FIXED_SIZE);

	LWLockRelease(AddinShmemInitLock);

	/*
	 * The postmaster loads the saved state when it creates shared memory, at
	 * start and again after a crash, and saves it when it shuts down.
	 */
	if (!found)
		load_state();
	if (!IsUnderPostmaster)
		on_shmem_exit(save_state_at_shutdown, (Datum)0);
}

/* Start a bucket in a new entry; the caller holds the table lock exclusively. */
void
init_entry(BucketEntry *entry, const Limits &limits, int64 now_ns)
{
	SpinLockInit(&entry->mutex);
	entry->configured = false;
	memset(&entry->configured_limits, 0, sizeof(entry->configured_limits));
	bucket_init(entry->bucket, limits, now_ns);
}

/*
 * Make room by evicting one idle bucket without limits of its own.  The
 * caller holds the table lock exclusively.  Returns false if none qualifies.
 */
bool
evict_one(const Limits &defaults, int64 now_ns)
{
	HASH_SEQ_STATUS scan;
	BucketEntry *entry;
	BucketKey victim;
	bool found = false;

	hash_seq_init(&scan, bucket_table);
	while ((entry = static_cast<BucketEntry *>(hash_seq_search(&scan))) != NULL)
	{
		/* No spinlock needed: with the table lock exclusive, nobody else is here. */
		if (entry->configured || !bucket_is_idle(entry->bucket, defaults, now_ns))
			continue;

		shared_header->evicted.buckets++;
		shared_header->evicted.granted += entry->bucket.granted;
		shared_header->evicted.rejected += entry->bucket.rejected;
		victim = entry->key;
		found = true;
		hash_seq_term(&scan);
		break;
	}

	if (found)
		hash_search(bucket_table, &victim, HASH_REMOVE, NULL);
	return found;
}

} /* namespace */

void
install_shared_state_hooks()
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = request_shared_memory;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = create_shared_memory;
}

void
require_shared_state()
{
	if (shared_header != NULL && bucket_table != NULL)
		return;

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("hacienda_ratelimit is not loaded into shared memory"),
			 errdetail("Rate-limit buckets are shared by all sessions and exist only when the "
					   "library is loaded at server start."),
			 errhint("Add \"hacienda_ratelimit\" to \"shared_preload_libraries\" and restart "
					 "the server.")));
}

BucketEntry *
lock_bucket_for_update(const BucketKey *key, const Limits &limits, int64 now_ns)
{
	BucketEntry *entry;
	bool found;

	LWLockAcquire(shared_header->table_lock, LW_SHARED);
	entry = static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_FIND, NULL));
	if (entry != NULL)
		return entry;

	/* A new key: retake the lock exclusively; someone may have added it meanwhile. */
	LWLockRelease(shared_header->table_lock);
	LWLockAcquire(shared_header->table_lock, LW_EXCLUSIVE);
	entry = static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_ENTER_NULL, &found));
	if (entry == NULL && evict_one(limits, now_ns))
		entry = static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_ENTER_NULL, &found));
	if (entry == NULL)
	{
		LWLockRelease(shared_header->table_lock);
		return NULL;
	}

	if (!found)
		init_entry(entry, limits, now_ns);
	return entry;
}

BucketEntry *
lock_bucket_for_reading(const BucketKey *key)
{
	LWLockAcquire(shared_header->table_lock, LW_SHARED);
	return static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_FIND, NULL));
}

void
lock_buckets_for_scan(HASH_SEQ_STATUS *scan)
{
	LWLockAcquire(shared_header->table_lock, LW_SHARED);
	hash_seq_init(scan, bucket_table);
}

BucketEntry *
lock_bucket_exclusively(const BucketKey *key)
{
	LWLockAcquire(shared_header->table_lock, LW_EXCLUSIVE);
	return static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_FIND, NULL));
}

void
lock_buckets_shared()
{
	LWLockAcquire(shared_header->table_lock, LW_SHARED);
}

void
unlock_buckets()
{
	LWLockRelease(shared_header->table_lock);
}

int64
wall_clock_anchor()
{
	return shared_header->clock_anchor_us;
}

EvictedTotals
evicted_totals()
{
	return shared_header->evicted;
}

WaiterSlot *
my_waiter_slot()
{
	if (MyBackendId < 1 || MyBackendId > MaxBackends)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("cannot wait for rate-limit tokens in this process")));
	return &waiter_slots[MyBackendId - 1];
}

void
enter_queue(const BucketEntry *entry, uint64 ticket)
{
	WaiterSlot *slot = &waiter_slots[MyBackendId - 1];

	slot->entry = entry;
	slot->ticket = ticket;
	slot->latch = MyLatch;
}

void
close_gap_behind(const BucketEntry *entry, uint64 ticket, int32 tokens)
{
	for (int i = 0; i < MaxBackends; i++)
	{
		WaiterSlot *slot = &waiter_slots[i];
		uint64 moved;

		if (slot->entry != entry)
			continue;
		moved = ticket_after_cancel(slot->ticket, ticket, tokens);
		if (moved == slot->ticket)
			continue;
		slot->ticket = moved;
		SetLatch(slot->latch);
	}
}

void
publish_default_limits(const Limits &limits)
{
	uint64 version;

	if (shared_header == NULL)
		return;

	version = pg_atomic_read_u64(&shared_header->defaults_version);
	pg_atomic_write_u64(&shared_header->defaults_version, version + 1);
	pg_write_barrier();
	shared_header->default_capacity = limits.capacity;
	shared_header->default_rate = limits.rate;
	shared_header->defaults_since_ns = monotonic_now_ns();
	pg_write_barrier();
	pg_atomic_write_u64(&shared_header->defaults_version, version + 2);
}

bool
read_default_limits(Limits *limits, int64 *since_ns)
{
	if (shared_header == NULL)
		return false;

	for (int i = 0; i < kDefaultsReadTries; i++)
	{
		uint64 before = pg_atomic_read_u64(&shared_header->defaults_version);
		uint64 after;

		if (before % 2 != 0)
			continue;
		pg_read_barrier();
		limits->capacity = shared_header->default_capacity;
		limits->rate = shared_header->default_rate;
		*since_ns = shared_header->defaults_since_ns;
		pg_read_barrier();
		after = pg_atomic_read_u64(&shared_header->defaults_version);
		if (after == before)
			return true;
	}
	return false;
}

void
wake_waiters(const BucketKey *key)
{
	const BucketEntry *entry = lock_bucket_exclusively(key);

	for (int i = 0; entry != NULL && i < MaxBackends; i++)
		if (waiter_slots[i].entry == entry)
			SetLatch(waiter_slots[i].latch);
	unlock_buckets();
}

long
bucket_count()
{
	return hash_get_num_entries(bucket_table);
}

int
bucket_capacity()
{
	return max_buckets_setting();
}

LWLock *
config_lock()
{
	return shared_header->config_lock;
}

void
set_evicted_totals(const EvictedTotals &totals)
{
	shared_header->evicted = totals;
}

} /* namespace hacienda */
