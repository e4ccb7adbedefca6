/*
 * reports.cpp
 *		Errors that more than one SQL function raises.
 */
#include "postgres_headers.hpp"

#include "key_encoding.hpp"
#include "reports.hpp"

namespace hacienda
{

/*
 * The SQLSTATE of a wait that cannot finish within its timeout.  It is not
 * 55P03, 40001 or 40P01, on which clients such as Odoo retry a whole request.
 */
#define ERRCODE_RATE_LIMIT_TIMEOUT MAKE_SQLSTATE('R', 'L', '0', '0', '1')

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

void
report_timeout(const BucketKey *key, int32 tokens, int64 timeout_ns, int64 wait_ns)
{
	char *timeout = float8out_internal(ns_to_seconds(timeout_ns));
	const char *shown = key_for_message(key->data, key->len);

	/* The plural form follows the tokens; the timeout, any fraction, is in "s". */
	ereport(
		ERROR,
		(errcode(ERRCODE_RATE_LIMIT_TIMEOUT),
		 errmsg_plural("could not acquire %d rate-limit token from bucket \"%s\" within the "
					   "timeout of %s s",
					   "could not acquire %d rate-limit tokens from bucket \"%s\" within the "
					   "timeout of %s s",
					   tokens, tokens, shown, timeout),
		 errdetail("The next slot for the request is %.3f seconds away.", ns_to_seconds(wait_ns)),
		 errhint("Retry later, or allow a longer timeout.")));
}

} /* namespace hacienda */
