/*
 * idle_test.cpp
 *		bucket_wait_for() and bucket_is_idle(): read-only questions a caller
 *		asks before it throttles or evicts a bucket.
 */
#include <cstring>

#include <gtest/gtest.h>

#include "token_bucket.hpp"

using hacienda::bucket_init;
using hacienda::bucket_is_idle;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::bucket_wait_for;
using hacienda::Limits;
using hacienda::TokenBucket;

namespace
{

constexpr int64_t kSecond = 1000000000;
constexpr int64_t kStart = 1000 * kSecond;
const Limits kLimits = {20, 10 * kSecond}; /* 20 tokens, 10 per second */

/* A fresh bucket is idle; one token taken makes it busy until refilled. */
TEST(Idle, FullBucketWithoutWaitersIsIdle)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	EXPECT_TRUE(bucket_is_idle(bucket, kLimits, kStart));

	ASSERT_TRUE(bucket_try_take(bucket, kLimits, kStart, 1));
	EXPECT_FALSE(bucket_is_idle(bucket, kLimits, kStart));
	EXPECT_FALSE(bucket_is_idle(bucket, kLimits, kStart + kSecond / 10 - 1));
	EXPECT_TRUE(bucket_is_idle(bucket, kLimits, kStart + kSecond / 10));
}

/* A bucket with a waiter is never idle, even once its level is back to full. */
TEST(Idle, WaiterKeepsBucketBusy)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	ASSERT_TRUE(bucket_try_take(bucket, kLimits, kStart, 20));
	ASSERT_EQ(bucket_reserve(bucket, kLimits, kStart, 1, 10 * kSecond).outcome,
			  hacienda::Outcome::MustWait);

	EXPECT_FALSE(bucket_is_idle(bucket, kLimits, kStart + 100 * kSecond));
}

/* The wait for n tokens is exact and does not change the bucket. */
TEST(WaitFor, ExactAndReadOnly)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	ASSERT_TRUE(bucket_try_take(bucket, kLimits, kStart, 20));
	TokenBucket before = bucket;

	EXPECT_EQ(bucket_wait_for(bucket, kLimits, kStart, 1), kSecond / 10);
	EXPECT_EQ(bucket_wait_for(bucket, kLimits, kStart, 20), 2 * kSecond);
	EXPECT_EQ(bucket_wait_for(bucket, kLimits, kStart + kSecond / 4, 3), kSecond / 20);
	EXPECT_EQ(bucket_wait_for(bucket, kLimits, kStart + 2 * kSecond, 20), 0);
	EXPECT_EQ(0, memcmp(&before, &bucket, sizeof(bucket)));
}

} /* namespace */
