/*
 * clock.hpp
 *		The monotonic clock that drives every bucket, and its wall-clock view.
 *
 * CLOCK_MONOTONIC is shared by all processes of one machine and never jumps
 * when the wall clock is set, so it is the only clock the buckets read.  The
 * wall clock only labels instants for people (last_request) and carries them
 * across restarts, when the monotonic clock may start over.
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

/*
 * The wall-clock time, in PostgreSQL's microseconds, of the monotonic instant
 * then_ns, given that the monotonic now_ns and the wall-clock now_us agree.
 */
inline int64_t
wall_time_of(int64_t then_ns, int64_t now_ns, int64_t now_us)
{
	return now_us - (now_ns - then_ns) / 1000;
}

/* The inverse of wall_time_of. */
inline int64_t
monotonic_time_of(int64_t then_us, int64_t now_us, int64_t now_ns)
{
	return now_ns - (now_us - then_us) * 1000;
}

} /* namespace hacienda */

#endif /* HACIENDA_PG_CLOCK_HPP */
