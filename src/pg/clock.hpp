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
 * How far the wall clock, in PostgreSQL's microseconds, is ahead of the
 * monotonic clock.  Measured once when shared memory is created, so that every
 * backend and every read labels one monotonic instant with the same wall-clock
 * time.  A later step of the wall clock is not followed until the next start.
 */
inline int64_t
clock_anchor_us(int64_t now_ns, int64_t now_us)
{
	return now_us - now_ns / 1000;
}

/* The wall-clock time, in PostgreSQL's microseconds, of the monotonic then_ns. */
inline int64_t
wall_time_of(int64_t then_ns, int64_t anchor_us)
{
	return anchor_us + then_ns / 1000;
}

/*
 * The inverse of wall_time_of.  An instant too far from the anchor for
 * nanoseconds in 64 bits (about 292 years) is clamped.
 */
inline int64_t
monotonic_time_of(int64_t then_us, int64_t anchor_us)
{
	int64_t since_us;
	int64_t then_ns;

	if (__builtin_sub_overflow(then_us, anchor_us, &since_us) ||
		__builtin_mul_overflow(since_us, 1000, &then_ns))
		return then_us < anchor_us ? INT64_MIN + 1 : INT64_MAX;
	return then_ns;
}

} /* namespace hacienda */

#endif /* HACIENDA_PG_CLOCK_HPP */
