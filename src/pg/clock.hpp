/*
 * clock.hpp
 *		The monotonic clock that drives every bucket.
 *
 * CLOCK_MONOTONIC is shared by all processes of one machine and never jumps
 * when the wall clock is set, so it is the only clock the buckets read.
 */
#ifndef HACIENDA_PG_CLOCK_HPP
#define HACIENDA_PG_CLOCK_HPP

#include <cstdint>
#include <time.h>

namespace hacienda
{

inline int64_t
monotonic_now_ns()
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

} /* namespace hacienda */

#endif /* HACIENDA_PG_CLOCK_HPP */
