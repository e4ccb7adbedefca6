/*
 * clock_test.cpp
 *		A clock that stands still earns nothing; a clock that goes backwards
 *		never moves the bucket's time back and never creates tokens.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_finish_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::Decision;

const Limits kLimits = {20, per_second(10)};

/* 100000 calls at one instant earn nothing between them. */
TEST(Clock, StandingStillEarnsNothing)
{
	TokenBucket bucket;
	int64_t t = kStart + 50 * kMilli;

	bucket_init(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart);

	for (int i = 0; i < 100000; i++)
		ASSERT_FALSE(bucket_try_take(bucket, kLimits, t, 1)) << "call " << i;

	EXPECT_EQ(bucket_peek(bucket, kLimits, t).level, kToken / 2);

	EXPECT_EQ(drain(bucket, kLimits, kStart + 100 * kMilli), 1);
}

/* A reading older than the bucket's leaves the bucket's time where it was. */
TEST(Clock, StoredTimeNeverMovesBack)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	bucket_try_take(bucket, kLimits, kStart + kSecond, 1);

	bucket_try_take(bucket, kLimits, kStart + kSecond / 2, 1);
	bucket_try_take(bucket, kLimits, kStart - 3600 * kSecond, 1);

	EXPECT_EQ(bucket.updated_ns, kStart + kSecond);
}

/* Going back and forth again earns only the forward time, counted once. */
TEST(Clock, BackwardsThenForwardEarnsOnlyOnce)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart);
	ASSERT_EQ(drain(bucket, kLimits, kStart + kSecond), 10);

	EXPECT_EQ(drain(bucket, kLimits, kStart + kSecond / 2), 0);

	EXPECT_EQ(drain(bucket, kLimits, kStart + 1100 * kMilli), 1);
}

/* Tokens at hand are the same seen from an older reading, not more. */
TEST(Clock, BackwardsReadingSeesNoExtraTokens)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart);
	ASSERT_TRUE(bucket_try_take(bucket, kLimits, kStart + kSecond, 5));

	EXPECT_EQ(drain(bucket, kLimits, kStart - 10 * kSecond), 5);

	EXPECT_EQ(drain(bucket, kLimits, kStart + kSecond), 0);
}

/* A reservation from an older reading is ready when the bucket's own clock says. */
TEST(Clock, ReservationFromAnOlderReadingIsNotEarly)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart + kSecond);

	Decision d = bucket_reserve(bucket, kLimits, kStart + kSecond / 2, 1, INT64_MAX);

	EXPECT_EQ(d.ready_ns, kStart + 1100 * kMilli);
}

/* The last grant time never moves backwards either. */
TEST(Clock, LastGrantTimeNeverMovesBack)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	bucket_try_take(bucket, kLimits, kStart + kSecond, 1);

	bucket_finish_wait(bucket, kStart + kSecond / 2);

	EXPECT_EQ(bucket.last_grant_ns, kStart + kSecond);
}

} /* namespace */
