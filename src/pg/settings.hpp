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

/* Limits every bucket uses, as this backend last read them. */
Limits default_limits();

/* Number of buckets shared memory is sized for. */
int max_buckets_setting();

} /* namespace hacienda */

#endif /* HACIENDA_PG_SETTINGS_HPP */
