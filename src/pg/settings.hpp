/*
 * settings.hpp
 *		The extension's configuration parameters.
 */
#ifndef HACIENDA_PG_SETTINGS_HPP
#define HACIENDA_PG_SETTINGS_HPP

#include "token_bucket.hpp"

namespace hacienda
{

/* Define the hacienda_ratelimit.* parameters; called from _PG_init. */
void define_settings();

/*
 * Limits every bucket without its own uses: the postmaster's settings, which
 * follow a reload at once, or this process's where none are published.
 */
Limits default_limits();

/*
 * The monotonic clock at which the limits default_limits() last returned took
 * effect, or INT64_MIN if not known.
 */
int64_t default_limits_since_ns();

/* The limits of this process's own settings, as it last read them. */
Limits setting_limits();

/* Number of buckets shared memory is sized for. */
int max_buckets_setting();

} /* namespace hacienda */

#endif /* HACIENDA_PG_SETTINGS_HPP */
