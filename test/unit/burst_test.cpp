/*
 * burst_test.cpp
 *		A full bucket allows one burst of its capacity, and idling never
 *		stores more than that.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;
using hacienda::bucket_try_take;

const Limits kLimits = {20, per_second(10)};

/* A fresh bucket grants exactly its capacity at one instant, then refuses. */
TEST(Burst, FreshBucketGrantsCapacityThenRefuses)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);

	EXPECT_EQ(drain(bucket, kLimits, kStart, 1000), 20);

	EXPECT_FALSE(bucket_try_take(bucket, kLimits, kStart, 1));
}

/* A burst may also be taken in one request of exactly capacity tokens, but not one more. */
TEST(Burst, OneRequestOfCapacityTokens)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);

	EXPECT_FALSE(bucket_try_take(bucket, kLimits, kStart, 21));

	EXPECT_TRUE(bucket_try_take(bucket, kLimits, kStart, 20));

	EXPECT_FALSE(bucket_try_take(bucket, kLimits, kStart, 1));
}

/* Idling 60 s refills only up to capacity: 20, then 0, then 10 one second later. */
TEST(Burst, LongIdleGivesNoDoubleCredit)
{
	TokenBucket bucket;
	int64_t idle_end = kStart + 60 * kSecond;

	bucket_init(bucket, kLimits, kStart);

	EXPECT_EQ(drain(bucket, kLimits, idle_end, 1000), 20);

	EXPECT_EQ(drain(bucket, kLimits, idle_end, 1000), 0);

	EXPECT_EQ(drain(bucket, kLimits, idle_end + kSecond, 1000), 10);
}

/* Idling after a drain also stops at capacity, not at capacity plus the idle time's worth. */
TEST(Burst, IdleAfterDrainStopsAtCapacity)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	ASSERT_EQ(drain(bucket, kLimits, kStart, 1000), 20);

	EXPECT_EQ(drain(bucket, kLimits, kStart + 3600 * kSecond, 100000), 20);
}

/* The counters record each grant and each refusal of a burst. */
TEST(Burst, CountersFollowGrantsAndRefusals)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);

	drain(bucket, kLimits, kStart, 1000);
	bucket_try_take(bucket, kLimits, kStart, 1);

	EXPECT_EQ(bucket.granted, 20u);
	EXPECT_EQ(bucket.rejected, 2u);
	EXPECT_EQ(bucket.last_grant_ns, kStart);
}

} /* namespace */
