/*
 * reports.cpp
 *		Errors that more than one SQL function raises.
 */
#include "postgres_headers.hpp"

#include "key_encoding.hpp"
#include "reports.hpp"

namespace hacienda
{

void
require_primary(const char *action)
{
	if (!RecoveryInProgress())
		return;

	ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					errmsg("cannot %s during recovery", action),
					errdetail("A standby server's buckets are not shared with the primary."),
					errhint("Connect to the primary server instead.")));
}

void
report_table_full()
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY), errmsg("too many rate-limit buckets"),
			 errdetail("All %d buckets are in use, and none is idle without limits of its own.",
					   bucket_capacity()),
			 errhint("Raise \"hacienda_ratelimit.max_buckets\" and restart the server.")));
}

void
report_oversized(const BucketKey *key, int32 tokens, int64 capacity)
{
	const char *shown = key_for_message(key->data, key->len);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot request more tokens than the bucket holds"),
			 errdetail("The request was for %d tokens, but bucket \"%s\" holds at most %lld.",
					   tokens, shown, static_cast<long long>(capacity)),
			 errhint("Request at most %lld tokens, or raise the bucket's capacity.",
					 static_cast<long long>(capacity))));
}

} /* namespace hacienda */
