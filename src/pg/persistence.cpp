/*
 * persistence.cpp
 *		Saving bucket configuration and counters, and loading them at start.
 *
 * One file holds both; see state_file.cpp for its format.  It is rewritten
 * whenever a key's configuration changes, so configuration survives any
 * crash, and when the postmaster shuts down cleanly, which is when counters
 * are saved.  After a crash, counters go back to the last save.  Buckets
 * always start full: only limits and counters are kept.
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

StoredState
empty_state()
{
	StoredState state;

	state.evicted = {0, 0, 0};
	state.count = 0;
	state.buckets = static_cast<StoredBucket *>(palloc0(sizeof(StoredBucket) * bucket_capacity()));
	return state;
}

/* Copy every bucket into state, whose array has room for the whole table. */
void
collect_state(StoredState *state)
{
	HASH_SEQ_STATUS scan;
	BucketEntry *entry;
	int64 anchor_us = wall_clock_anchor();

	lock_buckets_for_scan(&scan);
	while ((entry = static_cast<BucketEntry *>(hash_seq_search(&scan))) != NULL)
	{
		StoredBucket *record = &state->buckets[state->count++];
		int64 last_grant_ns;

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

void
report_write_failure(int elevel, const char *failed)
{
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

	read_state_file(&state);
	set_evicted_totals(state.evicted);

	/* Configured buckets first: they must not be crowded out by counters. */
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < state.count; i++)
		{
			if (state.buckets[i].configured != (pass == 0))
				continue;
			if (!restore_bucket(state.buckets[i], defaults, now_ns))
			{
				ereport(LOG, (errmsg("not every saved rate-limit bucket fits in %d buckets",
									 bucket_capacity()),
							  errhint("Raise \"hacienda_ratelimit.max_buckets\".")));
				pass = 2;
				break;
			}
		}
	}

	if (state.buckets != NULL)
		pfree(state.buckets);
}

void
save_state_at_shutdown(int code, Datum arg)
{
	StoredState state;
	const char *failed;

	/*
	 * After a crash, or an immediate shutdown that killed backends wherever
	 * they were, shared memory may be inconsistent and its locks held by the
	 * dead: keep the last save.  Only a shutdown that wrote its checkpoint
	 * stopped every backend cleanly.
	 */
	if (code != 0 || !shut_down_cleanly())
		return;

	state = empty_state();
	collect_state(&state);
	if (!write_state_file(state, &failed))
		report_write_failure(LOG, failed);
}

void
store_configuration(const BucketKey *key, bool configured, const Limits &limits)
{
	StoredState state;
	Limits defaults;
	int64 now_ns;
	BucketEntry *entry;
	bool was_configured;
	Limits was_limits;
	const char *failed;
	bool saved;
	int saved_errno;

	LWLockAcquire(config_lock(), LW_EXCLUSIVE);

	/* Returning a key to the defaults that has none of its own changes nothing. */
	if (!configured && !has_own_limits(key))
	{
		LWLockRelease(config_lock());
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
	if (configured && bucket_never_used(entry->bucket))
		bucket_init(entry->bucket, limits, now_ns);
	else
		bucket_switch_limits(entry->bucket, entry_limits(entry, defaults), now_ns);
	SpinLockRelease(&entry->mutex);
	unlock_buckets();

	/* Then the file; if that fails, undo the change in shared memory. */
	state = empty_state();
	collect_state(&state);
	saved = write_state_file(state, &failed);
	saved_errno = errno;
	if (!saved)
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
	pfree(state.buckets);

	/* Waiters look again at when they are due under the limits now in force. */
	wake_waiters(key);

	if (!saved)
	{
		errno = saved_errno;
		report_write_failure(ERROR, failed);
	}
}

} /* namespace hacienda */
