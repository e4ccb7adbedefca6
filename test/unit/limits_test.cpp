/*
 * limits_test.cpp
 *		Validation of everything a caller can pass in: rates, timeouts,
 *		capacities, token counts and key lengths.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "limits.hpp"
#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::check_key_length;
using hacienda::check_tokens;
using hacienda::KeyCheck;
using hacienda::make_limits;
using hacienda::rate_from_per_second;
using hacienda::timeout_to_ns;
using hacienda::TokensCheck;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kUntouched = -12345;

/* A rate is accepted only if it converts; a rejection leaves the output alone. */
bool
rejects_rate(double per_second)
{
	int64_t rate = kUntouched;

	return !rate_from_per_second(per_second, &rate) && rate == kUntouched;
}

bool
rejects_timeout(double seconds)
{
	int64_t ns = kUntouched;

	return !timeout_to_ns(seconds, &ns) && ns == kUntouched;
}

/* NaN, infinities, negatives and zero are not rates. */
TEST(Limits, RateRejectsNonsense)
{
	EXPECT_TRUE(rejects_rate(kNaN));
	EXPECT_TRUE(rejects_rate(-kNaN));
	EXPECT_TRUE(rejects_rate(kInf));
	EXPECT_TRUE(rejects_rate(-kInf));
	EXPECT_TRUE(rejects_rate(-1.0));
	EXPECT_TRUE(rejects_rate(0.0));
	EXPECT_TRUE(rejects_rate(-0.0));
}

/* The rate bounds are inclusive, and the nearest doubles outside them are refused. */
TEST(Limits, RateBounds)
{
	int64_t rate = 0;

	EXPECT_TRUE(rate_from_per_second(0.001, &rate));
	EXPECT_EQ(rate, 1000000);

	EXPECT_TRUE(rate_from_per_second(1000000.0, &rate));
	EXPECT_EQ(rate, INT64_C(1000000000000000));

	EXPECT_TRUE(rejects_rate(std::nextafter(0.001, 0.0)));
	EXPECT_TRUE(rejects_rate(0.0009));
	EXPECT_TRUE(rejects_rate(std::nextafter(1000000.0, kInf)));
	EXPECT_TRUE(rejects_rate(1000001.0));
}

/* Rates convert to the nearest nanotoken per second. */
TEST(Limits, RateConversionRoundsToNearest)
{
	int64_t rate = 0;

	ASSERT_TRUE(rate_from_per_second(1.0 / 3.0, &rate));
	EXPECT_EQ(rate, 333333333);

	ASSERT_TRUE(rate_from_per_second(2.0 / 3.0, &rate));
	EXPECT_EQ(rate, 666666667);

	ASSERT_TRUE(rate_from_per_second(7.0, &rate));
	EXPECT_EQ(rate, INT64_C(7000000000));

	EXPECT_DOUBLE_EQ(hacienda::rate_to_per_second(INT64_C(2500000000)), 2.5);
}

/* Capacity must be 1 .. kMaxCapacity; a refused make_limits leaves its output alone. */
TEST(Limits, CapacityBounds)
{
	const Limits untouched = {-1, -1};
	const int64_t bad[] = {0, -1, hacienda::kMaxCapacity + 1, INT64_MIN, INT64_MAX};

	for (int64_t capacity : bad)
	{
		Limits limits = untouched;

		EXPECT_FALSE(make_limits(capacity, 1.0, &limits)) << capacity;
		EXPECT_TRUE(limits == untouched);
	}

	Limits limits = untouched;

	EXPECT_TRUE(make_limits(1, 10.0, &limits));
	EXPECT_TRUE(limits == (Limits{1, INT64_C(10000000000)}));

	EXPECT_TRUE(make_limits(1000000, 0.001, &limits));
	EXPECT_TRUE(limits == (Limits{1000000, 1000000}));
}

/* make_limits refuses a good capacity with a bad rate, without writing. */
TEST(Limits, MakeLimitsChecksTheRate)
{
	Limits limits = {7, 7};

	EXPECT_FALSE(make_limits(10, kNaN, &limits));
	EXPECT_FALSE(make_limits(10, 0.0, &limits));

	EXPECT_TRUE(limits == (Limits{7, 7}));
}

/* NaN, infinities and negative timeouts are refused; zero is a valid "do not wait". */
TEST(Limits, TimeoutRejectsNonsense)
{
	int64_t ns = kUntouched;

	EXPECT_TRUE(rejects_timeout(kNaN));
	EXPECT_TRUE(rejects_timeout(kInf));
	EXPECT_TRUE(rejects_timeout(-kInf));
	EXPECT_TRUE(rejects_timeout(-1.0));
	EXPECT_TRUE(rejects_timeout(-std::numeric_limits<double>::denorm_min()));

	EXPECT_TRUE(timeout_to_ns(0.0, &ns));
	EXPECT_EQ(ns, 0);
}

/* Timeouts convert to the nearest nanosecond, up to and including the maximum. */
TEST(Limits, TimeoutBounds)
{
	int64_t ns = 0;

	ASSERT_TRUE(timeout_to_ns(1e-9, &ns));
	EXPECT_EQ(ns, 1);

	ASSERT_TRUE(timeout_to_ns(1.5, &ns));
	EXPECT_EQ(ns, 1500000000);

	ASSERT_TRUE(timeout_to_ns(hacienda::kMaxTimeoutSeconds, &ns));
	EXPECT_EQ(ns, INT64_C(2147483647) * 1000000);

	EXPECT_TRUE(rejects_timeout(std::nextafter(hacienda::kMaxTimeoutSeconds, kInf)));
	EXPECT_TRUE(rejects_timeout(1e300));
}

/* Token counts must be 1 .. capacity. */
TEST(Limits, TokenCounts)
{
	EXPECT_EQ(check_tokens(0, 10), TokensCheck::BelowOne);
	EXPECT_EQ(check_tokens(-1, 10), TokensCheck::BelowOne);
	EXPECT_EQ(check_tokens(INT64_MIN, 10), TokensCheck::BelowOne);

	EXPECT_EQ(check_tokens(1, 10), TokensCheck::Ok);
	EXPECT_EQ(check_tokens(10, 10), TokensCheck::Ok);

	EXPECT_EQ(check_tokens(11, 10), TokensCheck::AboveCapacity);
	EXPECT_EQ(check_tokens(INT64_MAX, 10), TokensCheck::AboveCapacity);
	EXPECT_EQ(check_tokens(INT64_MAX, INT64_MAX), TokensCheck::Ok);
}

/* Keys must be 1 .. 255 bytes. */
TEST(Limits, KeyLengths)
{
	EXPECT_EQ(check_key_length(0), KeyCheck::Empty);
	EXPECT_EQ(check_key_length(1), KeyCheck::Ok);
	EXPECT_EQ(check_key_length(255), KeyCheck::Ok);
	EXPECT_EQ(check_key_length(256), KeyCheck::TooLong);
	EXPECT_EQ(check_key_length(SIZE_MAX), KeyCheck::TooLong);
}

/* Display helpers turn nanoseconds back into seconds. */
TEST(Limits, NanosecondsToSeconds)
{
	EXPECT_DOUBLE_EQ(hacienda::ns_to_seconds(1500000000), 1.5);
	EXPECT_DOUBLE_EQ(hacienda::ns_to_seconds(0), 0.0);
}

} /* namespace */
