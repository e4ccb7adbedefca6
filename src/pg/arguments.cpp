/*
 * arguments.cpp
 *		Fetch and validate the arguments of the SQL functions.
 */
#include "postgres_headers.hpp"

#include <cstring>

#include "arguments.hpp"
#include "key_encoding.hpp"
#include "limits.hpp"

namespace hacienda
{

namespace
{

void
require_not_null(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (!PG_ARGISNULL(argno))
		return;

	ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					errmsg("argument \"%s\" must not be null", name)));
}

} /* namespace */

void
fetch_key(FunctionCallInfo fcinfo, int argno, BucketKey *key)
{
	text *value;
	size_t len;
	const char *data;

	require_not_null(fcinfo, argno, "key");
	value = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(value);
	data = key_bytes_from_database(VARDATA_ANY(value), &len);

	switch (check_key_length(len))
	{
		case KeyCheck::Ok:
			break;
		case KeyCheck::Empty:
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("rate-limit key must not be empty")));
			break;
		case KeyCheck::TooLong:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rate-limit key is too long"),
					 errdetail("The key is %zu bytes long; the limit is %zu bytes.", len,
							   kMaxKeyBytes)));
			break;
	}

	key->len = static_cast<uint32>(len);
	memcpy(key->data, data, len);
}

int32
fetch_tokens(FunctionCallInfo fcinfo, int argno)
{
	int32 tokens;

	require_not_null(fcinfo, argno, "tokens");
	tokens = PG_GETARG_INT32(argno);

	/* The bucket's capacity is checked under its lock; see report_oversized. */
	if (tokens < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("number of tokens must be at least 1"),
						errdetail("The request was for %d tokens.", tokens)));

	return tokens;
}

Limits
fetch_limits(FunctionCallInfo fcinfo, int capacity_argno, int rate_argno)
{
	int32 capacity;
	float8 rate;
	Limits limits;

	require_not_null(fcinfo, capacity_argno, "capacity");
	require_not_null(fcinfo, rate_argno, "refill_rate");
	capacity = PG_GETARG_INT32(capacity_argno);
	rate = PG_GETARG_FLOAT8(rate_argno);

	if (capacity < 1 || capacity > kMaxCapacity)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("capacity must be between 1 and %lld tokens",
							   static_cast<long long>(kMaxCapacity)),
						errdetail("The capacity given was %d.", capacity)));
	if (!make_limits(capacity, rate, &limits))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("refill rate must be between %s and %s tokens per second",
							   float8out_internal(kMinRate), float8out_internal(kMaxRate)),
						errdetail("The refill rate given was %s.", float8out_internal(rate))));

	return limits;
}

int64
fetch_timeout_ns(FunctionCallInfo fcinfo, int argno)
{
	float8 seconds;
	int64_t timeout_ns;

	require_not_null(fcinfo, argno, "timeout");
	seconds = PG_GETARG_FLOAT8(argno);

	if (!timeout_to_ns(seconds, &timeout_ns))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("timeout must be a number of seconds between 0 and %.3f",
							   kMaxTimeoutSeconds),
						errdetail("The timeout given was %s.", float8out_internal(seconds))));

	return timeout_ns;
}

} /* namespace hacienda */
