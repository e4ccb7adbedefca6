/*
 * persistence.cpp
 *		Saving bucket configuration and counters, and loading them at start.
 *
 * One file holds both; see state_file.cpp for its format.  It is rewritten
 * whenever a key's configuration changes, so configuration survives any
 * crash, and when the postmaster shuts down cleanly, which is when counters
 * are saved.  After a crash, counters go back to the last save.  Buckets
 * always start full: only limits and counters are kept.
 *
 * Configured keys that do not fit
 * -------------------------------
 * hacienda_ratelimit.max_buckets may have been lowered since the last save.
 * Loading restores configured buckets first.  Saved buckets without limits
 * of their own that find no room are counted as evicted, as they would have
 * been at run time.  Configured buckets that find no room are left out of
 * the table, but their records stay in the state file: every save while the
 * server runs copies them from the file it replaces (merge_left_out), so a
 * restart with more room brings them back.  The file is the one place that
 * every process that saves sees, the backends that change configuration as
 * well as the postmaster at shutdown, and the configuration lock orders
 * those saves.
 *
 * Every change of a key's configuration rewrites the file, so a configured
 * record in the file whose key has no limits of its own in the table can
 * only be one that was left out.  Such a record is kept as it is until its
 * key is given limits again (the table's record then replaces it) or
 * returned to the defaults (it is dropped, with its counters).  While its key
 * has a bucket under the default limits, that bucket is saved as evicted, as
 * a restart will make it.  Left-out records only ever go away, so no save
 * holds more records than the file loaded, which held at most kMaxBuckets.
 *
 * Only a server whose load left something out reads the old file when it
 * saves.  left_out_at_load says so; the postmaster sets it while it loads,
 * before it starts any backend, so every process that saves inherits it.
 */
#include "postgres_headers.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "clock.hpp"
#include "persistence.hpp"
#include "reports.hpp"
#include "settings.hpp"
#include "state_file.hpp"

namespace hacienda
{

namespace
{

/* Whether the last load left configured records out of the table. */
bool left_out_at_load = false;

/* How a save went. */
enum class SaveOutcome
{
	Saved,
	Unchanged,  /* nothing to write */
	NoMemory,   /* the records could not be gathered */
	WriteFailed /* errno and the failed step say why */
};

/*
 * Copy every bucket and the evicted totals into state, in an array palloc'd
 * for as many records as the table holds.  They are counted and copied under
 * one hold of the table lock, which keeps buckets from being added in
 * between.  Returns false, with nothing allocated and no lock held, if the
 * memory cannot be had.
 */
bool
collect_state(StoredState *state)
{
	HASH_SEQ_STATUS scan;
	BucketEntry *entry;
	int64 anchor_us = wall_clock_anchor();
	long entries;

	state->count = 0;
	lock_buckets_for_scan(&scan);

	/*
	 * Nothing may raise an error under the lock: ask for memory without one.
	 * The records are zeroed so that no stray byte reaches the file.
	 */
	entries = bucket_count();
	state->buckets = static_cast<StoredBucket *>(
		palloc_extended(sizeof(StoredBucket) * Max(entries, 1),
						MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO));
	if (state->buckets == NULL)
	{
		hash_seq_term(&scan);
		unlock_buckets();
		return false;
	}

	while ((entry = static_cast<BucketEntry *>(hash_seq_search(&scan))) != NULL)
	{
		StoredBucket *record;
		int64 last_grant_ns;

		/* Cannot happen: adding a bucket takes the lock exclusively. */
		if (state->count == entries)
		{
			hash_seq_term(&scan);
			break;
		}
		record = &state->buckets[state->count++];

		record->key.len = entry->key.len;
		memcpy(record->key.data, entry->key.data, entry->key.len);

		SpinLockAcquire(&entry->mutex);
		record->configured = entry->configured;
		record->limits = entry->configured_limits;
		record->granted = entry->bucket.granted;
		record->rejected = entry->bucket.rejected;
		last_grant_ns = entry->bucket.last_grant_ns;
		SpinLockRelease(&entry->mutex);

		record->has_last_request = last_grant_ns != INT64_MIN;
		if (record->has_last_request)
			record->last_request = wall_time_of(last_grant_ns, anchor_us);
	}
	state->evicted = evicted_totals();
	unlock_buckets();
	return true;
}

/* qsort and bsearch order of records: by key. */
int
compare_keys(const void *a, const void *b)
{
	const BucketKey &x = static_cast<const StoredBucket *>(a)->key;
	const BucketKey &y = static_cast<const StoredBucket *>(b)->key;
	int order = memcmp(x.data, y.data, Min(x.len, y.len));

	if (order != 0)
		return order;
	return (x.len > y.len) - (x.len < y.len);
}

/* Whether a and b name the same bucket. */
bool
same_key(const BucketKey &a, const BucketKey &b)
{
	return a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
}

/*
 * Add to state, gathered from the table, the configured records that the
 * last load left out, read from the file about to be replaced; see the top
 * of this file.  dropped, if not NULL, is a key being returned to the
 * defaults: its record in the old file is not kept, and *dropped_found says
 * whether there was one.  Returns false if memory runs out; state is then
 * as it was.
 */
bool
merge_left_out(StoredState *state, const BucketKey *dropped, bool *dropped_found)
{
	StoredState old;
	int candidates = 0;
	int kept = 0;
	StoredBucket *merged;

	*dropped_found = false;
	read_state_file(&old);

	/* The old file's configured records, but dropped's, go to the front, sorted. */
	for (int i = 0; i < old.count; i++)
	{
		if (!old.buckets[i].configured)
			continue;
		if (dropped != NULL && same_key(old.buckets[i].key, *dropped))
		{
			*dropped_found = true;
			continue;
		}
		old.buckets[candidates++] = old.buckets[i];
	}
	if (candidates > 0)
		qsort(old.buckets, candidates, sizeof(StoredBucket), compare_keys);

	/*
	 * A key with limits of its own in the table has the table's record.  One
	 * with a bucket under the default limits keeps its left-out record, and
	 * that bucket counts as evicted, as it will be when the server starts
	 * again.  Either way the left-out record is used up: its configured flag
	 * is cleared.
	 */
	for (int i = 0; i < state->count && candidates > 0; i++)
	{
		StoredBucket *mine = &state->buckets[i];
		StoredBucket *left = static_cast<StoredBucket *>(
			bsearch(mine, old.buckets, candidates, sizeof(StoredBucket), compare_keys));

		if (left == NULL)
			continue;
		if (!mine->configured)
		{
			state->evicted.buckets++;
			state->evicted.granted += mine->granted;
			state->evicted.rejected += mine->rejected;
			*mine = *left;
		}
		left->configured = false;
	}

	/* The records whose key is not in the table are kept as they are. */
	for (int i = 0; i < candidates; i++)
		if (old.buckets[i].configured)
			old.buckets[kept++] = old.buckets[i];
	if (kept > 0)
	{
		merged = static_cast<StoredBucket *>(palloc_extended(
			sizeof(StoredBucket) * (state->count + kept), MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM));
		if (merged == NULL)
		{
			pfree(old.buckets);
			return false;
		}
		memcpy(merged, state->buckets, sizeof(StoredBucket) * state->count);
		memcpy(merged + state->count, old.buckets, sizeof(StoredBucket) * kept);
		pfree(state->buckets);
		state->buckets = merged;
		state->count += kept;
	}

	if (old.buckets != NULL)
		pfree(old.buckets);
	return true;
}

/*
 * Write the table, and the configured records the last load left out, to
 * the state file.  dropped is as for merge_left_out.  With only_if_dropped,
 * nothing is written unless the old file had a record of dropped to give up.
 * The caller holds the configuration lock, or is the postmaster at shutdown.
 */
SaveOutcome
save_state(const BucketKey *dropped, bool only_if_dropped, const char **failed)
{
	StoredState state;
	bool dropped_found = false;
	bool written;
	int saved_errno;

	if (!collect_state(&state))
		return SaveOutcome::NoMemory;
	if (left_out_at_load && !merge_left_out(&state, dropped, &dropped_found))
	{
		pfree(state.buckets);
		return SaveOutcome::NoMemory;
	}
	if (only_if_dropped && !dropped_found)
	{
		pfree(state.buckets);
		return SaveOutcome::Unchanged;
	}

	written = write_state_file(state, failed);
	saved_errno = errno;
	pfree(state.buckets);
	errno = saved_errno;
	return written ? SaveOutcome::Saved : SaveOutcome::WriteFailed;
}

/* Whether key has a bucket with limits of its own. */
bool
has_own_limits(const BucketKey *key)
{
	BucketEntry *entry = lock_bucket_for_reading(key);
	bool configured = false;

	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		configured = entry->configured;
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();
	return configured;
}

/* Whether the control file says the server has just shut down cleanly. */
bool
shut_down_cleanly()
{
	bool crc_ok;
	ControlFileData *control = get_controlfile(DataDir, &crc_ok);
	bool clean =
		crc_ok && (control->state == DB_SHUTDOWNED || control->state == DB_SHUTDOWNED_IN_RECOVERY);

	pfree(control);
	return clean;
}

/* A bucket nobody has asked anything of yet starts full under its own limits. */
bool
bucket_never_used(const TokenBucket &bucket)
{
	return bucket.granted == 0 && bucket.rejected == 0 && bucket.waiting == 0;
}

/*
 * Report a save that did not go through at elevel; errno must be as
 * save_state left it.
 */
void
report_save_failure(int elevel, SaveOutcome outcome, const char *failed)
{
	if (outcome == SaveOutcome::NoMemory)
		ereport(elevel, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
						 errdetail("Could not gather the rate-limit state to save in \"%s\".",
								   kStateFileName)));
	else if (outcome == SaveOutcome::WriteFailed)
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not %s rate-limit state file \"%s\": %m", failed, kStateFileName)));
}

/* Put one saved bucket back into the table.  Returns false if there is no room. */
bool
restore_bucket(const StoredBucket &record, const Limits &defaults, int64 now_ns)
{
	BucketEntry *entry = lock_bucket_for_update(&record.key, defaults, now_ns);

	if (entry == NULL)
		return false;

	SpinLockAcquire(&entry->mutex);
	entry->configured = record.configured;
	if (record.configured)
	{
		entry->configured_limits = record.limits;
		bucket_init(entry->bucket, record.limits, now_ns);
	}
	entry->bucket.granted = record.granted;
	entry->bucket.rejected = record.rejected;
	/* A wall clock set back since the save must not put it in the future. */
	if (record.has_last_request)
		entry->bucket.last_grant_ns =
			std::min(monotonic_time_of(record.last_request, wall_clock_anchor()), now_ns);
	SpinLockRelease(&entry->mutex);

	unlock_buckets();
	return true;
}

} /* namespace */

void
load_state()
{
	StoredState state;
	Limits defaults = default_limits();
	int64 now_ns = monotonic_now_ns();
	int restored = 0;
	bool full = false;
	int left_out = 0;
	EvictedTotals dropped = {0, 0, 0};

	read_state_file(&state);
	set_evicted_totals(state.evicted);

	/*
	 * Configured buckets first: they must not be crowded out by counters.
	 * Once the table is full, nothing more goes in: restoring a bucket
	 * without limits of its own would only evict another such one.
	 */
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < state.count; i++)
		{
			const StoredBucket &record = state.buckets[i];

			if (record.configured != (pass == 0))
				continue;
			full = full || restored >= bucket_capacity();
			if (!full && restore_bucket(record, defaults, now_ns))
			{
				restored++;
				continue;
			}
			full = true;
			if (record.configured)
				left_out++;
			else
			{
				dropped.buckets++;
				dropped.granted += record.granted;
				dropped.rejected += record.rejected;
			}
		}
	}
	left_out_at_load = left_out > 0;

	/* Buckets without limits of their own that found no room count as evicted. */
	if (dropped.buckets > 0)
	{
		EvictedTotals totals;

		lock_buckets_shared();
		totals = evicted_totals();
		unlock_buckets();
		totals.buckets += dropped.buckets;
		totals.granted += dropped.granted;
		totals.rejected += dropped.rejected;
		set_evicted_totals(totals);

		ereport(LOG,
				(errmsg_plural("counted %llu saved rate-limit bucket as evicted",
							   "counted %llu saved rate-limit buckets as evicted",
							   static_cast<unsigned long>(dropped.buckets),
							   static_cast<unsigned long long>(dropped.buckets)),
				 errdetail_plural("Only %d bucket fits in shared memory, and buckets with limits "
								  "of their own come first.",
								  "Only %d buckets fit in shared memory, and buckets with limits "
								  "of their own come first.",
								  bucket_capacity(), bucket_capacity())));
	}

	if (left_out > 0)
		ereport(WARNING,
				(errmsg_plural("could not restore the limits of %d rate-limit bucket",
							   "could not restore the limits of %d rate-limit buckets", left_out,
							   left_out),
				 errdetail_plural("Only %d bucket fits in shared memory.  Those keys use the "
								  "default limits until a restart restores their own, which the "
								  "state file keeps.",
								  "Only %d buckets fit in shared memory.  Those keys use the "
								  "default limits until a restart restores their own, which the "
								  "state file keeps.",
								  bucket_capacity(), bucket_capacity()),
				 errhint("Raise \"hacienda_ratelimit.max_buckets\" and restart the server.")));

	if (state.buckets != NULL)
		pfree(state.buckets);
}

void
save_state_at_shutdown(int code, Datum arg)
{
	SaveOutcome outcome;
	const char *failed = NULL;

	/*
	 * After a crash, or an immediate shutdown that killed backends wherever
	 * they were, shared memory may be inconsistent and its locks held by the
	 * dead: keep the last save.  Only a shutdown that wrote its checkpoint
	 * stopped every backend cleanly.
	 */
	if (code != 0 || !shut_down_cleanly())
		return;

	outcome = save_state(NULL, false, &failed);
	report_save_failure(LOG, outcome, failed);
}

void
store_configuration(const BucketKey *key, bool configured, const Limits &limits)
{
	Limits defaults;
	int64 now_ns;
	BucketEntry *entry;
	bool was_configured;
	Limits was_limits;
	const char *failed = NULL;
	SaveOutcome outcome;
	int saved_errno;

	LWLockAcquire(config_lock(), LW_EXCLUSIVE);

	/*
	 * Returning a key to the defaults that has none of its own in the table
	 * changes nothing there.  The last load may have left its limits out,
	 * though: the file then no longer keeps them.
	 */
	if (!configured && !has_own_limits(key))
	{
		outcome = left_out_at_load ? save_state(key, true, &failed) : SaveOutcome::Unchanged;
		saved_errno = errno;
		LWLockRelease(config_lock());
		errno = saved_errno;
		report_save_failure(ERROR, outcome, failed);
		return;
	}

	/* Change shared memory first, so that the bucket cannot be evicted meanwhile. */
	defaults = default_limits();
	now_ns = monotonic_now_ns();
	entry = lock_bucket_for_update(key, defaults, now_ns);
	if (entry == NULL)
	{
		LWLockRelease(config_lock());
		report_table_full();
	}
	SpinLockAcquire(&entry->mutex);
	was_configured = entry->configured;
	was_limits = entry->configured_limits;
	entry->configured = configured;
	if (configured)
		entry->configured_limits = limits;
	/* Unused, it starts full under its new limits, whether its own or the defaults. */
	if (bucket_never_used(entry->bucket))
		bucket_init(entry->bucket, entry_limits(entry, defaults), now_ns);
	else
		bucket_switch_limits(entry->bucket, entry_limits(entry, defaults), now_ns);
	SpinLockRelease(&entry->mutex);
	unlock_buckets();

	/*
	 * Then the file; if that fails, undo the change in shared memory.  A key
	 * returned to the defaults drops its old record, which the table's
	 * replaces.
	 */
	outcome = save_state(configured ? NULL : key, false, &failed);
	saved_errno = errno;
	if (outcome != SaveOutcome::Saved)
	{
		entry = lock_bucket_for_reading(key);
		if (entry != NULL)
		{
			SpinLockAcquire(&entry->mutex);
			entry->configured = was_configured;
			entry->configured_limits = was_limits;
			SpinLockRelease(&entry->mutex);
		}
		unlock_buckets();
	}

	LWLockRelease(config_lock());

	/* Waiters look again at when they are due under the limits now in force. */
	wake_waiters(key);

	errno = saved_errno;
	report_save_failure(ERROR, outcome, failed);
}

} /* namespace hacienda */
