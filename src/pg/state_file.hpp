/*
 * state_file.hpp
 *		The file that keeps bucket configuration and counters across restarts.
 */
#ifndef HACIENDA_PG_STATE_FILE_HPP
#define HACIENDA_PG_STATE_FILE_HPP

#include "postgres_headers.hpp"

#include "shared_state.hpp"

namespace hacienda
{

/* What the file says about one bucket. */
struct StoredBucket
{
	BucketKey key;
	bool configured;
	Limits limits; /* meaningful when configured */
	uint64 granted;
	uint64 rejected;
	bool has_last_request;
	TimestampTz last_request;
};

struct StoredState
{
	EvictedTotals evicted;
	int count;
	StoredBucket *buckets;
};

/*
 * Replace the file with state, atomically and durably: a temporary file is
 * written, flushed and renamed over the old one.  Raises no error: returns
 * false with errno set and *failed naming the step that failed, so a caller
 * holding a lock can release it before reporting.
 */
bool write_state_file(const StoredState &state, const char **failed);

/*
 * Read the file into state (buckets palloc'd).  A missing file is an empty
 * state.  A file that cannot be read, is corrupt or was written by something
 * else is ignored with a LOG message; the result is then empty too.
 */
void read_state_file(StoredState *state);

/* The file's name, relative to the data directory. */
extern const char *const kStateFileName;

} /* namespace hacienda */

#endif /* HACIENDA_PG_STATE_FILE_HPP */
