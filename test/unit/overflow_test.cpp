/*
 * overflow_test.cpp
 *		Extreme clocks, rates and timeouts give exact or saturated answers,
 *		never an overflow (this suite also runs under UBSan).
 */
#include <gtest/gtest.h>

#include "limits.hpp"
#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::deadline_after;
using hacienda::Decision;
using hacienda::kMaxCapacity;
using hacienda::Outcome;

/* Limits at the top of every bound. */
const Limits kExtreme = {kMaxCapacity, static_cast<int64_t>(hacienda::kMaxRate) * kToken};

/* Limits at the slow end: the largest capacity at the smallest rate. */
const Limits kSlowest = {kMaxCapacity, 1000000};

/* deadline_after adds exactly when it can and saturates when it cannot. */
TEST(Overflow, DeadlineAfterSaturates)
{
	EXPECT_EQ(deadline_after(0, 0), 0);
	EXPECT_EQ(deadline_after(-5, 3), -2);
	EXPECT_EQ(deadline_after(INT64_MAX - 5, 4), INT64_MAX - 1);
	EXPECT_EQ(deadline_after(INT64_MAX - 5, 5), INT64_MAX);

	EXPECT_EQ(deadline_after(INT64_MAX - 5, 6), INT64_MAX);
	EXPECT_EQ(deadline_after(1, INT64_MAX), INT64_MAX);
	EXPECT_EQ(deadline_after(INT64_MAX, INT64_MAX), INT64_MAX);
	EXPECT_EQ(deadline_after(INT64_MIN, -1), INT64_MIN);
}

/* A bucket living at the very end of the clock still refills exactly. */
TEST(Overflow, ClockNearItsEnd)
{
	const Limits limits = {20, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, limits, INT64_MAX - kSecond);
	EXPECT_EQ(drain(bucket, limits, INT64_MAX - kSecond), 20);

	EXPECT_EQ(drain(bucket, limits, INT64_MAX), 10);
}

/* A reservation at the end of the clock reports its wait, and a saturated ready time. */
TEST(Overflow, ReservationAtTheEndOfTheClock)
{
	const Limits limits = {20, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, limits, INT64_MAX);
	drain(bucket, limits, INT64_MAX);

	Decision d = bucket_reserve(bucket, limits, INT64_MAX, 1, INT64_MAX);

	EXPECT_EQ(d.outcome, Outcome::MustWait);
	EXPECT_EQ(d.wait_ns, kSecond / 10);
	EXPECT_EQ(d.ready_ns, INT64_MAX);
}

/* INT64_MAX nanoseconds of idling at the highest rate just fills the bucket. */
TEST(Overflow, ElapsedTimeOfInt64Max)
{
	TokenBucket bucket;

	bucket_init(bucket, kExtreme, 0);
	ASSERT_EQ(take_all(bucket, kExtreme, 0), kMaxCapacity);

	EXPECT_EQ(take_all(bucket, kExtreme, INT64_MAX), kMaxCapacity);
}

/* A reading jump from the most negative clock to the most positive one does not overflow. */
TEST(Overflow, WholeClockRange)
{
	TokenBucket bucket;

	bucket_init(bucket, kExtreme, INT64_MIN);
	ASSERT_EQ(take_all(bucket, kExtreme, INT64_MIN), kMaxCapacity);

	EXPECT_EQ(take_all(bucket, kExtreme, INT64_MAX), kMaxCapacity);
}

/* At the highest rate, every elapsed time short of a full refill earns exactly rate * dt. */
TEST(Overflow, HighestRateIsExactOnEveryScale)
{
	const int64_t gaps[] = {1, 9223, 9224, 9225, 1000000, 123456789, kSecond - 1};

	for (int64_t gap : gaps)
	{
		TokenBucket bucket;

		bucket_init(bucket, kExtreme, kStart);
		take_all(bucket, kExtreme, kStart);

		i128 expected = static_cast<i128>(kExtreme.rate) * gap / kSecond;

		int64_t level = bucket_peek(bucket, kExtreme, kStart + gap).level;

		EXPECT_TRUE(level == expected) << "gap " << gap;
	}
}

/* Deep debt at the slowest rate, then INT64_MAX ns of refill: exact, still in debt. */
TEST(Overflow, DeepDebtRefillsExactly)
{
	TokenBucket bucket;
	int64_t reserved = 0;

	bucket_init(bucket, kSlowest, 0);
	take_all(bucket, kSlowest, 0);

	for (int i = 0; i < 1000; i++)
		if (bucket_reserve(bucket, kSlowest, 0, kMaxCapacity, INT64_MAX).outcome ==
			Outcome::MustWait)
			reserved++;
	ASSERT_EQ(reserved, 1000);

	i128 expected = -static_cast<i128>(reserved) * kMaxCapacity * kToken +
					static_cast<i128>(kSlowest.rate) * INT64_MAX / kSecond;

	EXPECT_TRUE(bucket_peek(bucket, kSlowest, INT64_MAX).level == expected);
}

/*
 * With max_wait_ns = INT64_MAX, full-size reservations at the slowest rate are
 * accepted until the debt limit; each wait is exact or saturated, and the ready
 * time never wraps around.
 */
TEST(Overflow, UnboundedWaitsSaturate)
{
	TokenBucket bucket;
	int64_t accepted = 0;
	Decision d;

	bucket_init(bucket, kSlowest, kStart);
	take_all(bucket, kSlowest, kStart);

	while ((d = bucket_reserve(bucket, kSlowest, kStart, kMaxCapacity, INT64_MAX)).outcome ==
		   Outcome::MustWait)
	{
		accepted++;

		i128 exact = ceil_div(static_cast<i128>(accepted) * kMaxCapacity * kE18, kSlowest.rate);
		int64_t expected = exact > INT64_MAX ? INT64_MAX : static_cast<int64_t>(exact);

		ASSERT_EQ(d.wait_ns, expected) << "reservation " << accepted;
		ASSERT_GE(d.ready_ns, kStart);
		ASSERT_LT(accepted, 100000) << "the debt has no bound";
	}

	EXPECT_EQ(d.outcome, Outcome::Refused);
	EXPECT_EQ(d.wait_ns, INT64_MAX);
	EXPECT_GT(accepted, 9); /* past the point where waits saturate */
	EXPECT_EQ(bucket.waiting, accepted);
}

/* Peeking at a deeply indebted bucket saturates its times instead of overflowing. */
TEST(Overflow, PeekAtDeepDebtSaturates)
{
	TokenBucket bucket;

	bucket_init(bucket, kSlowest, kStart);
	take_all(bucket, kSlowest, kStart);
	while (bucket_reserve(bucket, kSlowest, kStart, kMaxCapacity, INT64_MAX).outcome ==
		   Outcome::MustWait)
	{
	}

	EXPECT_EQ(bucket_peek(bucket, kSlowest, kStart).retry_after_ns, INT64_MAX);
	EXPECT_EQ(bucket_peek(bucket, kSlowest, kStart).reset_after_ns, INT64_MAX);
}

/* The largest request at the largest limits is granted and accounted exactly. */
TEST(Overflow, LargestRequestAtLargestLimits)
{
	TokenBucket bucket;

	bucket_init(bucket, kExtreme, INT64_MAX - 1);

	EXPECT_TRUE(bucket_try_take(bucket, kExtreme, INT64_MAX - 1, kMaxCapacity));

	EXPECT_FALSE(bucket_try_take(bucket, kExtreme, INT64_MAX - 1, 1));

	/* One nanosecond at 10^6 tokens/s is 10^6 nanotokens. */
	EXPECT_EQ(bucket_peek(bucket, kExtreme, INT64_MAX).level, 1000000);
}

} /* namespace */
