/*
 * settings.cpp
 *		The extension's configuration parameters.
 *
 * capacity and refill_rate take effect on reload.  A backend reads its
 * settings again only between statements, so the limits every call uses are
 * the postmaster's: it publishes them in shared memory as it reads them (see
 * publish_default_limits), and a bucket that sees new limits first refills
 * under the old ones up to that moment.  max_buckets sizes shared memory, so
 * it needs a restart.
 */
#include "postgres_headers.hpp"

#include "limits.hpp"
#include "settings.hpp"
#include "shared_state.hpp"

namespace hacienda
{

namespace
{

int capacity_setting = 20;
double refill_rate_setting = 10.0;
int max_buckets = 1000;

/* When the limits default_limits() last returned took effect. */
int64 defaults_since_ns = INT64_MIN;

/* In the postmaster, publish limits made of these values, if they are valid. */
void
publish_if_postmaster(int capacity, double rate)
{
	Limits limits;

	if (!IsUnderPostmaster && make_limits(capacity, rate, &limits))
		publish_default_limits(limits);
}

void
assign_capacity(int newval, void *extra)
{
	publish_if_postmaster(newval, refill_rate_setting);
}

void
assign_refill_rate(double newval, void *extra)
{
	publish_if_postmaster(capacity_setting, newval);
}

} /* namespace */

void
define_settings()
{
	DefineCustomIntVariable("hacienda_ratelimit.capacity",
							"Number of tokens a full bucket holds, which is the largest burst.",
							NULL, &capacity_setting, capacity_setting, 1,
							static_cast<int>(kMaxCapacity), PGC_SIGHUP, 0, NULL, assign_capacity,
							NULL);

	DefineCustomRealVariable(
		"hacienda_ratelimit.refill_rate", "Number of tokens added to each bucket per second.",
		"Fractions are allowed; the rate is kept to a billionth of a token.", &refill_rate_setting,
		refill_rate_setting, kMinRate, kMaxRate, PGC_SIGHUP, 0, NULL, assign_refill_rate, NULL);

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

	if (read_default_limits(&limits, &defaults_since_ns))
		return limits;
	defaults_since_ns = INT64_MIN;
	return setting_limits();
}

int64
default_limits_since_ns()
{
	return defaults_since_ns;
}

Limits
setting_limits()
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
