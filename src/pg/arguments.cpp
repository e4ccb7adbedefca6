/*
 * arguments.cpp
 *		Fetch and validate the arguments of the SQL functions.
 */
#include "postgres_headers.hpp"

#include "arguments.hpp"
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

	require_not_null(fcinfo, argno, "key");
	value = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(value);

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

	key_from_text(key, value);
}

int32
fetch_tokens(FunctionCallInfo fcinfo, int argno, const Limits &limits, const BucketKey *key)
{
	int32 tokens;

	require_not_null(fcinfo, argno, "tokens");
	tokens = PG_GETARG_INT32(argno);

	switch (check_tokens(tokens, limits.capacity))
	{
		case TokensCheck::Ok:
			break;
		case TokensCheck::BelowOne:
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("number of tokens must be at least 1"),
							errdetail("The request was for %d tokens.", tokens)));
			break;
		case TokensCheck::AboveCapacity:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot request more tokens than the bucket holds"),
					 errdetail("The request was for %d tokens, but bucket \"%.*s\" holds at most "
							   "%lld.",
							   tokens, static_cast<int>(key->len), key->data,
							   static_cast<long long>(limits.capacity)),
					 errhint("Request at most %lld tokens, or raise "
							 "\"hacienda_ratelimit.capacity\".",
							 static_cast<long long>(limits.capacity))));
			break;
	}

	return tokens;
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
