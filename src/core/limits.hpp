/*
 * limits.hpp
 *		Bounds and validation of everything a caller can pass in.
 *
 * The glue checks every argument here before it takes any lock, and turns a
 * rejection into a PostgreSQL error.  Nothing here allocates or throws.
 */
#ifndef HACIENDA_CORE_LIMITS_HPP
#define HACIENDA_CORE_LIMITS_HPP

#include <cstddef>
#include <cstdint>

#include "token_bucket.hpp"

namespace hacienda
{

/* Sane bounds for configured limits. */
constexpr int64_t kMaxCapacity = 1000000;
constexpr double kMinRate = 0.001;   /* tokens per second */
constexpr double kMaxRate = 1000000; /* tokens per second */

/* The longest wait anyone may ask for: the same bound as statement_timeout. */
constexpr double kMaxTimeoutSeconds = 2147483.647;

/* The most buckets shared memory may be sized for. */
constexpr int kMaxBuckets = 1000000;

/* Bucket names are stored inline, so their length is bounded. */
constexpr std::size_t kMaxKeyBytes = 255;

/*
 * Convert tokens per second to nanotokens per second.  Returns false, leaving
 * *rate untouched, unless the value is finite and within the bounds above.
 */
bool rate_from_per_second(double per_second, int64_t *rate) noexcept;

/* The inverse, for display. */
double rate_to_per_second(int64_t rate) noexcept;

/* Build validated limits; false if either value is out of bounds. */
bool make_limits(int64_t capacity, double per_second, Limits *limits) noexcept;

/*
 * Convert a timeout in seconds to nanoseconds.  Returns false for NaN,
 * infinities, negative values and values above kMaxTimeoutSeconds.
 */
bool timeout_to_ns(double seconds, int64_t *timeout_ns) noexcept;

/* Nanoseconds as seconds, for display. */
double ns_to_seconds(int64_t ns) noexcept;

enum class TokensCheck : uint8_t
{
	Ok,
	BelowOne,
	AboveCapacity
};

/* Is a request for this many tokens one that a bucket of this capacity can meet? */
TokensCheck check_tokens(int64_t tokens, int64_t capacity) noexcept;

enum class KeyCheck : uint8_t
{
	Ok,
	Empty,
	TooLong
};

KeyCheck check_key_length(std::size_t bytes) noexcept;

} /* namespace hacienda */

#endif /* HACIENDA_CORE_LIMITS_HPP */
