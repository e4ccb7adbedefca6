/*
 * limits.cpp
 *		Bounds and validation; see limits.hpp.
 */
#include "limits.hpp"

#include <cmath>

#include "no_postgres.hpp"

namespace hacienda
{

bool
rate_from_per_second(double per_second, int64_t *rate) noexcept
{
	/* Written so that NaN fails the test. */
	if (!(per_second >= kMinRate && per_second <= kMaxRate))
		return false;

	*rate = std::llround(per_second * static_cast<double>(kUnitsPerToken));
	return true;
}

double
rate_to_per_second(int64_t rate) noexcept
{
	return static_cast<double>(rate) / static_cast<double>(kUnitsPerToken);
}

bool
make_limits(int64_t capacity, double per_second, Limits *limits) noexcept
{
	int64_t rate;

	if (capacity < 1 || capacity > kMaxCapacity)
		return false;
	if (!rate_from_per_second(per_second, &rate))
		return false;

	limits->capacity = capacity;
	limits->rate = rate;
	return true;
}

bool
timeout_to_ns(double seconds, int64_t *timeout_ns) noexcept
{
	/* Written so that NaN fails the test. */
	if (!(seconds >= 0.0 && seconds <= kMaxTimeoutSeconds))
		return false;

	*timeout_ns = std::llround(seconds * static_cast<double>(kNanosPerSecond));
	return true;
}

double
ns_to_seconds(int64_t ns) noexcept
{
	return static_cast<double>(ns) / static_cast<double>(kNanosPerSecond);
}

TokensCheck
check_tokens(int64_t tokens, int64_t capacity) noexcept
{
	if (tokens < 1)
		return TokensCheck::BelowOne;
	if (tokens > capacity)
		return TokensCheck::AboveCapacity;
	return TokensCheck::Ok;
}

KeyCheck
check_key_length(std::size_t bytes) noexcept
{
	if (bytes == 0)
		return KeyCheck::Empty;
	if (bytes > kMaxKeyBytes)
		return KeyCheck::TooLong;
	return KeyCheck::Ok;
}

} /* namespace hacienda */
