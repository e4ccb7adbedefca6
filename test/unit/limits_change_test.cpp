/*
 * limits_change_test.cpp
 *		Passing different limits switches a bucket over: time before the
 *		switch refills at the old rate, time after at the new one.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;
using hacienda::bucket_switch_limits;
using hacienda::bucket_try_take;

/* 2.5 s at 1 token/s, then 1 s at 4 tokens/s: 2.5 + 4 = 6.5 tokens, one taken at the switch. */
TEST(LimitsChange, OldRateUpToTheSwitchThenTheNewOne)
{
	const Limits slow = {100, per_second(1)};
	const Limits fast = {100, per_second(4)};
	TokenBucket bucket;
	int64_t switch_at = kStart + 2500 * kMilli;

	bucket_init(bucket, slow, kStart);
	drain(bucket, slow, kStart);

	EXPECT_TRUE(bucket_try_take(bucket, fast, switch_at, 1));

	EXPECT_EQ(drain(bucket, fast, switch_at + kSecond), 5);
}

/* Slowing down: 1 s at 10 tokens/s, then 1 s at 0.5 tokens/s, is 10.5 tokens. */
TEST(LimitsChange, SlowingDownCountsTheFastPartFully)
{
	const Limits fast = {100, per_second(10)};
	const Limits slow = {100, kToken / 2};
	TokenBucket bucket;

	bucket_init(bucket, fast, kStart);
	drain(bucket, fast, kStart);

	EXPECT_FALSE(bucket_try_take(bucket, slow, kStart + kSecond, 11));

	EXPECT_EQ(drain(bucket, slow, kStart + 2 * kSecond), 10);

	EXPECT_EQ(drain(bucket, slow, kStart + 3 * kSecond), 1);
}

/* A remainder earned under the old rate carries across the switch. */
TEST(LimitsChange, RemainderSurvivesTheSwitch)
{
	const Limits thirds = {10, 333333333};
	const Limits sevenths = {10, 142857143};
	TokenBucket bucket;
	int64_t switch_at = kStart + 1500 * kMilli;
	int64_t end = switch_at + 3500 * kMilli;

	bucket_init(bucket, thirds, kStart);
	drain(bucket, thirds, kStart);

	int64_t granted = drain(bucket, sevenths, switch_at);

	granted += drain(bucket, sevenths, end);

	i128 earned = static_cast<i128>(thirds.rate) * (switch_at - kStart) +
				  static_cast<i128>(sevenths.rate) * (end - switch_at);

	EXPECT_EQ(granted, static_cast<int64_t>(earned / kE18));
}

/* Shrinking capacity trims a full bucket to the new capacity at once. */
TEST(LimitsChange, ShrinkingCapacityTrimsTheLevel)
{
	const Limits big = {20, per_second(10)};
	const Limits small = {5, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, big, kStart);

	EXPECT_EQ(drain(bucket, small, kStart), 5);

	EXPECT_EQ(drain(bucket, small, kStart + 3600 * kSecond), 5);
}

/* Shrinking below a partly filled level trims it too; a level already below stays. */
TEST(LimitsChange, ShrinkingOnlyTrimsWhatIsAbove)
{
	const Limits big = {20, per_second(10)};
	const Limits small = {5, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, big, kStart);
	ASSERT_TRUE(bucket_try_take(bucket, big, kStart, 17));

	EXPECT_EQ(drain(bucket, small, kStart), 3);
}

/* Growing capacity adds nothing by itself; the room fills at the rate. */
TEST(LimitsChange, GrowingCapacityAddsNothingAtOnce)
{
	const Limits small = {5, per_second(10)};
	const Limits big = {20, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, small, kStart);

	EXPECT_EQ(drain(bucket, big, kStart + kSecond), 5);

	EXPECT_EQ(drain(bucket, big, kStart + 2 * kSecond), 10);

	EXPECT_EQ(drain(bucket, big, kStart + 3600 * kSecond), 20);
}

/* The bucket remembers the limits it was last refilled under. */
TEST(LimitsChange, BucketStoresTheNewLimits)
{
	const Limits first = {5, per_second(10)};
	const Limits second = {7, per_second(3)};
	TokenBucket bucket;

	bucket_init(bucket, first, kStart);

	bucket_try_take(bucket, second, kStart + 1, 1);

	EXPECT_TRUE(bucket.limits == second);
}

/*
 * A switch made at 1 s from 10 tokens/s to 1 token/s counts from 1 s, however
 * late the next call comes: by 3 s the bucket holds 10 + 2 tokens, not 30.
 */
TEST(LimitsChange, ExplicitSwitchCountsFromWhenItWasMade)
{
	const Limits fast = {100, per_second(10)};
	const Limits slow = {100, per_second(1)};
	TokenBucket bucket;

	bucket_init(bucket, fast, kStart);
	drain(bucket, fast, kStart);

	bucket_switch_limits(bucket, slow, kStart + kSecond);

	EXPECT_TRUE(bucket.limits == slow);
	EXPECT_EQ(drain(bucket, slow, kStart + 3 * kSecond), 12);
}

/* Switching to the limits the bucket already has only refills up to now. */
TEST(LimitsChange, ExplicitSwitchToTheSameLimitsOnlyRefills)
{
	const Limits limits = {100, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, limits, kStart);
	drain(bucket, limits, kStart);

	bucket_switch_limits(bucket, limits, kStart + kSecond);

	EXPECT_EQ(bucket.updated_ns, kStart + kSecond);
	EXPECT_EQ(drain(bucket, limits, kStart + kSecond), 10);
}

} /* namespace */
