/*
 * throttle.cpp
 *		hacienda_throttle(): try to take tokens and say when to come back.
 *
 * One atomic request, like Redis's CL.THROTTLE: the caller learns whether it
 * was allowed, what is left, how long until the same request would succeed
 * and how long until the bucket is full, all exact to the nanosecond.
 */
#include "postgres_headers.hpp"

#include "acquire.hpp"
#include "arguments.hpp"
#include "boundary.hpp"
#include "reports.hpp"

namespace hacienda
{

namespace
{

Datum
throttle(FunctionCallInfo fcinfo)
{
	BucketKey key;
	int32 tokens;
	Request request;
	TupleDesc tupdesc;
	Datum values[4];
	bool nulls[4] = {false, false, false, false};
	bool allowed;
	int64 remaining;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	tokens = fetch_tokens(fcinfo, 1);
	require_primary("acquire rate-limit tokens");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	request = run_request(&key, tokens, RequestKind::Throttle, 0);
	allowed = request.decision.outcome == Outcome::Granted;
	remaining = request.after.level > 0 ? request.after.level / kUnitsPerToken : 0;

	values[0] = BoolGetDatum(allowed);
	values[1] = Int32GetDatum(static_cast<int32>(remaining));
	values[2] = Float8GetDatum(allowed ? 0.0 : ns_to_seconds(request.decision.wait_ns));
	values[3] = Float8GetDatum(ns_to_seconds(request.after.reset_after_ns));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

} /* namespace */

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_throttle, hacienda::throttle)
