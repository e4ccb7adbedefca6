/*
 * refill_test.cpp
 *		An empty bucket earns tokens at its rate, and refused calls cost
 *		nothing.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;
using hacienda::bucket_try_take;

const Limits kLimits = {20, per_second(10)};

/* Start a bucket at kStart and take its whole burst. */
void
start_empty(TokenBucket &bucket)
{
	bucket_init(bucket, kLimits, kStart);
	ASSERT_EQ(drain(bucket, kLimits, kStart, 1000), 20);
}

/* 100 ms at 10 tokens/s earns exactly one token, not a moment sooner. */
TEST(Refill, OneTokenAfterOneTenthOfASecond)
{
	TokenBucket bucket;

	start_empty(bucket);

	EXPECT_FALSE(bucket_try_take(bucket, kLimits, kStart + 100 * kMilli - 1, 1));

	EXPECT_EQ(drain(bucket, kLimits, kStart + 100 * kMilli, 1000), 1);
}

/* After the first token, one more second earns exactly ten. */
TEST(Refill, TenTokensAfterOneSecond)
{
	TokenBucket bucket;
	int64_t t = kStart + 100 * kMilli;

	start_empty(bucket);
	ASSERT_EQ(drain(bucket, kLimits, t, 1000), 1);

	EXPECT_EQ(drain(bucket, kLimits, t + kSecond, 1000), 10);
}

/* A second split into many small steps earns the same ten tokens as one step. */
TEST(Refill, SmallStepsAddUpExactly)
{
	TokenBucket bucket;
	int64_t granted = 0;

	start_empty(bucket);

	for (int64_t t = kStart + 7919; t <= kStart + kSecond; t += 7919)
		granted += drain(bucket, kLimits, t, 1000);

	granted += drain(bucket, kLimits, kStart + kSecond, 1000);

	EXPECT_EQ(granted, 10);
}

/* 100000 refused calls change nothing: one second later there are exactly ten tokens. */
TEST(Refill, RefusedCallsCostNothing)
{
	TokenBucket bucket;

	start_empty(bucket);
	uint64_t rejected_before = bucket.rejected;

	for (int i = 0; i < 100000; i++)
		ASSERT_FALSE(bucket_try_take(bucket, kLimits, kStart + i % 100, 1)) << "call " << i;

	EXPECT_EQ(bucket.rejected - rejected_before, 100000u);

	EXPECT_EQ(drain(bucket, kLimits, kStart + kSecond, 1000), 10);
}

/* Two-token requests refused while one token is there cost nothing either. */
TEST(Refill, RefusedLargerRequestsCostNothing)
{
	TokenBucket bucket;
	int64_t granted = 0;

	start_empty(bucket);

	for (int64_t t = kStart; t < kStart + kSecond; t += 10 * kMilli)
		granted += bucket_try_take(bucket, kLimits, t, 2) ? 2 : 0;

	granted += drain(bucket, kLimits, kStart + kSecond, 1000);

	EXPECT_EQ(granted, 10);
}

} /* namespace */
