/*
 * arguments.hpp
 *		Fetch and validate the arguments of the SQL functions.
 *
 * Each function raises an ERROR of class 22 for a value it rejects, before
 * any lock is taken, so a rejected call changes nothing.
 */
#ifndef HACIENDA_PG_ARGUMENTS_HPP
#define HACIENDA_PG_ARGUMENTS_HPP

#include "postgres_headers.hpp"

#include "shared_state.hpp"

namespace hacienda
{

/* The bucket name in argument argno. */
void fetch_key(FunctionCallInfo fcinfo, int argno, BucketKey *key);

/* The token count in argument argno; at least 1, not yet checked against a capacity. */
int32 fetch_tokens(FunctionCallInfo fcinfo, int argno);

/* A capacity and a refill rate in tokens per second, as validated limits. */
Limits fetch_limits(FunctionCallInfo fcinfo, int capacity_argno, int rate_argno);

/* The timeout in seconds in argument argno, as nanoseconds. */
int64 fetch_timeout_ns(FunctionCallInfo fcinfo, int argno);

} /* namespace hacienda */

#endif /* HACIENDA_PG_ARGUMENTS_HPP */
