/*
 * configure.cpp
 *		hacienda_configure() and hacienda_unconfigure(): per-key limits.
 *
 * A key's limits change at the moment of the call: time before it refills
 * under the old limits, time after under the new ones.  Sessions waiting on
 * the key are woken to look again at when they are due, and the new limits
 * are kept in the state file before the function returns.
 */
#include "postgres_headers.hpp"

#include "arguments.hpp"
#include "boundary.hpp"
#include "persistence.hpp"
#include "reports.hpp"

namespace hacienda
{

namespace
{

Datum
configure(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits limits;

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	limits = fetch_limits(fcinfo, 1, 2);
	require_primary("change rate-limit configuration");

	store_configuration(&key, true, limits);
	PG_RETURN_VOID();
}

Datum
unconfigure(FunctionCallInfo fcinfo)
{
	BucketKey key;
	Limits unused = {0, 0};

	require_shared_state();
	fetch_key(fcinfo, 0, &key);
	require_primary("change rate-limit configuration");

	store_configuration(&key, false, unused);
	PG_RETURN_VOID();
}

} /* namespace */

} /* namespace hacienda */

HACIENDA_SQL_FUNCTION(hacienda_configure, hacienda::configure)
HACIENDA_SQL_FUNCTION(hacienda_unconfigure, hacienda::unconfigure)
