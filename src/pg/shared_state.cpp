/*
 * shared_state.cpp
 *		The shared table of named buckets.
 *
 * Locking protocol
 * ----------------
 * One LWLock, from the tranche named "hacienda_ratelimit", guards the hash
 * table itself:
 *	- looking a bucket up needs it in shared mode;
 *	- inserting (or, later, removing) a bucket needs it in exclusive mode.
 * Each entry has a spinlock that guards its TokenBucket.  Reading or changing
 * a bucket needs the table lock in either mode plus the entry's spinlock, so
 * callers on different keys never wait for each other.  Code under a
 * spinlock only calls the noexcept core; nothing between acquiring and
 * releasing either lock can raise an error.
 *
 * Entries are never removed, so a waiter may look its bucket up again later
 * by key and find it.
 */
#include "postgres_headers.hpp"

#include <cstring>

#include "settings.hpp"
#include "shared_state.hpp"

namespace hacienda
{

namespace
{

constexpr const char *kTrancheName = "hacienda_ratelimit";

struct SharedHeader
{
	LWLock *lock;
};

SharedHeader *shared_header = NULL;
HTAB *bucket_table = NULL;

shmem_request_hook_type prev_shmem_request_hook = NULL;
shmem_startup_hook_type prev_shmem_startup_hook = NULL;

Size
shared_size()
{
	return add_size(MAXALIGN(sizeof(SharedHeader)),
					hash_estimate_size(max_buckets_setting(), sizeof(BucketEntry)));
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
	RequestNamedLWLockTranche(kTrancheName, 1);
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
		shared_header->lock = &(GetNamedLWLockTranche(kTrancheName))->lock;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(BucketKey);
	info.entrysize = sizeof(BucketEntry);
	info.hash = key_hash;
	info.match = key_compare;
	bucket_table =
		ShmemInitHash("hacienda_ratelimit buckets", max_buckets_setting(), max_buckets_setting(),
					  &info, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_FIXED_SIZE);

	LWLockRelease(AddinShmemInitLock);
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

void
key_from_text(BucketKey *key, const text *value)
{
	key->len = VARSIZE_ANY_EXHDR(value);
	memcpy(key->data, VARDATA_ANY(value), key->len);
}

BucketEntry *
lock_bucket_for_update(const BucketKey *key, const Limits &limits, int64 now_ns)
{
	BucketEntry *entry;
	bool found;

	LWLockAcquire(shared_header->lock, LW_SHARED);
	entry = static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_FIND, NULL));
	if (entry != NULL)
		return entry;

	/* A new key: retake the lock exclusively; someone may have added it meanwhile. */
	LWLockRelease(shared_header->lock);
	LWLockAcquire(shared_header->lock, LW_EXCLUSIVE);
	entry = static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_ENTER_NULL, &found));
	if (entry == NULL)
	{
		LWLockRelease(shared_header->lock);
		return NULL;
	}

	if (!found)
	{
		SpinLockInit(&entry->mutex);
		bucket_init(entry->bucket, limits, now_ns);
	}
	return entry;
}

BucketEntry *
lock_bucket_for_reading(const BucketKey *key)
{
	LWLockAcquire(shared_header->lock, LW_SHARED);
	return static_cast<BucketEntry *>(hash_search(bucket_table, key, HASH_FIND, NULL));
}

void
unlock_buckets()
{
	LWLockRelease(shared_header->lock);
}

} /* namespace hacienda */
