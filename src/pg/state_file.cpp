/*
 * state_file.cpp
 *		The file that keeps bucket configuration and counters across restarts.
 *
 * Layout: a header (magic number, format version, record count, evicted
 * totals), the records, and a CRC-32C of everything before it.  The file is
 * only ever replaced whole, by renaming a flushed temporary file over it, so
 * a crash leaves either the old file or the new one.
 */
#include "postgres_headers.hpp"

#include <cerrno>

#include "state_file.hpp"

namespace hacienda
{

const char *const kStateFileName = "hacienda_ratelimit.state";

namespace
{

const char *const kTempFileName = "hacienda_ratelimit.state.tmp";

constexpr uint32 kMagic = 0x48524c53; /* "HRLS" */
constexpr uint32 kFormatVersion = 1;

struct FileHeader
{
	uint32 magic;
	uint32 version;
	int32 count;
	uint32 record_size;
	EvictedTotals evicted;
};

bool
write_all(int fd, const void *data, size_t size)
{
	errno = 0;
	if (write(fd, data, size) != static_cast<ssize_t>(size))
	{
		/* A short write without an error means the disk is full. */
		if (errno == 0)
			errno = ENOSPC;
		return false;
	}
	return true;
}

bool
read_all(FILE *file, void *data, size_t size, pg_crc32c *crc)
{
	if (fread(data, 1, size, file) != size)
		return false;
	if (crc != NULL)
		COMP_CRC32C(*crc, data, size);
	return true;
}

/* Reject records that could not have been written by this extension. */
bool
record_is_valid(const StoredBucket &record)
{
	Limits checked;

	if (check_key_length(record.key.len) != KeyCheck::Ok)
		return false;
	if (!record.configured)
		return true;
	return make_limits(record.limits.capacity, rate_to_per_second(record.limits.rate), &checked) &&
		   checked.capacity == record.limits.capacity;
}

void
ignore_file(const char *why)
{
	ereport(LOG, (errmsg("ignoring rate-limit state file \"%s\": %s", kStateFileName, why),
				  errdetail("Buckets start full with default limits and zero counters.")));
}

} /* namespace */

bool
write_state_file(const StoredState &state, const char **failed)
{
	FileHeader header;
	pg_crc32c crc;
	int fd;
	int saved_errno;

	memset(&header, 0, sizeof(header));
	header.magic = kMagic;
	header.version = kFormatVersion;
	header.count = state.count;
	header.record_size = sizeof(StoredBucket);
	header.evicted = state.evicted;
	INIT_CRC32C(crc);

	fd = OpenTransientFile(kTempFileName, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
	{
		*failed = "create";
		return false;
	}

	COMP_CRC32C(crc, &header, sizeof(header));
	COMP_CRC32C(crc, state.buckets, sizeof(StoredBucket) * state.count);
	FIN_CRC32C(crc);
	if (!write_all(fd, &header, sizeof(header)) ||
		!write_all(fd, state.buckets, sizeof(StoredBucket) * state.count) ||
		!write_all(fd, &crc, sizeof(crc)))
	{
		*failed = "write";
		goto fail;
	}
	if (pg_fsync(fd) != 0)
	{
		*failed = "flush";
		goto fail;
	}
	if (CloseTransientFile(fd) != 0)
	{
		*failed = "close";
		return false;
	}

	/* durable_rename flushes the file and the directory around the rename. */
	if (durable_rename(kTempFileName, kStateFileName, DEBUG1) != 0)
	{
		*failed = "rename";
		return false;
	}
	return true;

fail:
	saved_errno = errno;
	CloseTransientFile(fd);
	unlink(kTempFileName);
	errno = saved_errno;
	return false;
}

void
read_state_file(StoredState *state)
{
	FileHeader header;
	pg_crc32c crc;
	pg_crc32c stored_crc;
	FILE *file;

	memset(state, 0, sizeof(*state));

	file = AllocateFile(kStateFileName, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not open rate-limit state file \"%s\": %m", kStateFileName)));
		return;
	}

	INIT_CRC32C(crc);
	if (!read_all(file, &header, sizeof(header), &crc) || header.magic != kMagic ||
		header.version != kFormatVersion || header.record_size != sizeof(StoredBucket) ||
		header.count < 0 || header.count > kMaxBuckets)
	{
		FreeFile(file);
		ignore_file("it was not written by this version of hacienda_ratelimit");
		return;
	}

	state->buckets = static_cast<StoredBucket *>(
		palloc_extended(sizeof(StoredBucket) * Max(header.count, 1), MCXT_ALLOC_NO_OOM));
	if (state->buckets == NULL ||
		!read_all(file, state->buckets, sizeof(StoredBucket) * header.count, &crc) ||
		!read_all(file, &stored_crc, sizeof(stored_crc), NULL))
	{
		FreeFile(file);
		ignore_file("it is truncated");
		state->buckets = NULL;
		return;
	}
	FreeFile(file);

	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, stored_crc))
	{
		ignore_file("its checksum does not match");
		state->buckets = NULL;
		return;
	}
	for (int i = 0; i < header.count; i++)
	{
		if (!record_is_valid(state->buckets[i]))
		{
			ignore_file("it holds an invalid record");
			state->buckets = NULL;
			return;
		}
	}

	state->count = header.count;
	state->evicted = header.evicted;
}

} /* namespace hacienda */
