/*
 * settings.cpp
 *		The extension's configuration parameters.
 *
 * capacity and refill_rate take effect on reload: each call reads them, and a
 * bucket that sees new limits first refills under the old ones up to that
 * moment.  max_buckets sizes shared memory, so it needs a restart.
 */
#include "postgres_headers.hpp"

#include "limits.hpp"
#include "settings.hpp"

namespace hacienda
{

namespace
{

int capacity_setting = 20;
double refill_rate_setting = 10.0;
int max_buckets = 1000;

} /* namespace */

void
define_settings()
{
	DefineCustomIntVariable("hacienda_ratelimit.capacity",
							"Number of tokens a full bucket holds, which is the largest burst.",
							NULL, &capacity_setting, capacity_setting, 1,
							static_cast<int>(kMaxCapacity), PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomRealVariable(
		"hacienda_ratelimit.refill_rate", "Number of tokens added to each bucket per second.",
		"Fractions are allowed; the rate is kept to a billionth of a token.", &refill_rate_setting,
		refill_rate_setting, kMinRate, kMaxRate, PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("hacienda_ratelimit.max_buckets",
							"Largest number of distinct keys the shared bucket table holds.", NULL,
							&max_buckets, max_buckets, 1, kMaxBuckets, PGC_POSTMASTER, 0, NULL,
							NULL, NULL);

	MarkGUCPrefixReserved("hacienda_ratelimit");
}

Limits
default_limits()
{
	Limits limits;

	/* The parameters' own bounds already keep both values valid. */
	if (!make_limits(capacity_setting, refill_rate_setting, &limits))
		elog(ERROR, "hacienda_ratelimit settings out of range");
	return limits;
}

int
max_buckets_setting()
{
	return max_buckets;
}

} /* namespace hacienda */
