/*
 * cancel_test.cpp
 *		A waiter that gives up passes its reservation's slot.  The last one in
 *		the queue returns its tokens, never past capacity; one from the middle
 *		of the queue, or one whose slot has come, returns nothing, and the
 *		waiters behind keep their slots.
 */
#include <gtest/gtest.h>

#include <vector>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_cancel_wait;
using hacienda::bucket_finish_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::Decision;
using hacienda::Outcome;

const Limits kLimits = {20, per_second(10)};
const int64_t kTenth = kSecond / 10; /* one token's worth of time at 10 tokens/s */

/* A bucket started at kStart with its whole burst taken. */
TokenBucket
empty_bucket(const Limits &limits)
{
	TokenBucket bucket;

	bucket_init(bucket, limits, kStart);
	drain(bucket, limits, kStart);
	return bucket;
}

/* The only waiter cancelling before its slot leaves the bucket as if it never asked. */
TEST(Cancel, TailGivesTokensBack)
{
	TokenBucket bucket = empty_bucket(kLimits);
	Decision d = bucket_reserve(bucket, kLimits, kStart, 3, INT64_MAX);

	ASSERT_EQ(d.ready_ns, kStart + 3 * kTenth);

	bucket_cancel_wait(bucket, kLimits, kStart + 50 * kMilli, 3, d.ready_ns);

	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(bucket_peek(bucket, kLimits, kStart + 50 * kMilli).level, kToken / 2);

	/* The 50 ms already earned plus 50 ms more make one token, as with no reservation. */
	EXPECT_EQ(drain(bucket, kLimits, kStart + kTenth - 1), 0);
	EXPECT_EQ(drain(bucket, kLimits, kStart + kTenth), 1);
}

/* A newcomer after a tail cancel gets the slot the cancelled waiter had. */
TEST(Cancel, NewcomerTakesTheFreedSlot)
{
	TokenBucket bucket = empty_bucket(kLimits);

	Decision first = bucket_reserve(bucket, kLimits, kStart, 2, INT64_MAX);

	bucket_cancel_wait(bucket, kLimits, kStart + 10 * kMilli, 2, first.ready_ns);

	Decision second = bucket_reserve(bucket, kLimits, kStart + 10 * kMilli, 2, INT64_MAX);

	EXPECT_EQ(second.outcome, Outcome::MustWait);
	EXPECT_EQ(second.ready_ns, first.ready_ns);
}

/* Given-back tokens never lift the level above capacity, even one lowered meanwhile. */
TEST(Cancel, TailGiveBackStopsAtCapacity)
{
	const Limits shrunk = {2, kLimits.rate};
	TokenBucket bucket = empty_bucket(kLimits);

	/* 500 ms earn 5 tokens; reserving 8 leaves 3 tokens of debt, paid at 800 ms. */
	Decision d = bucket_reserve(bucket, kLimits, kStart + 5 * kTenth, 8, INT64_MAX);

	ASSERT_EQ(d.outcome, Outcome::MustWait);
	ASSERT_EQ(d.ready_ns, kStart + 8 * kTenth);

	/* Same rate, so the tail still knows itself: -1 + 8 tokens, cut to 2. */
	bucket_cancel_wait(bucket, shrunk, kStart + 7 * kTenth, 8, d.ready_ns);

	EXPECT_EQ(drain(bucket, shrunk, kStart + 7 * kTenth), 2);
}

/* Two waiters: 10 tokens due at 1.0 s and 1 token due at 1.1 s. */
struct TwoWaiters
{
	TokenBucket bucket;
	Decision first;
	Decision second;
};

TwoWaiters
two_waiters()
{
	TwoWaiters q = {empty_bucket(kLimits), {}, {}};

	q.first = bucket_reserve(q.bucket, kLimits, kStart, 10, INT64_MAX);
	q.second = bucket_reserve(q.bucket, kLimits, kStart, 1, INT64_MAX);
	return q;
}

/* A waiter leaving from the middle of the queue returns nothing. */
TEST(Cancel, MidQueueCancelReturnsNothing)
{
	TwoWaiters q = two_waiters();

	ASSERT_EQ(q.first.ready_ns, kStart + 10 * kTenth);
	ASSERT_EQ(q.second.ready_ns, kStart + 11 * kTenth);

	bucket_cancel_wait(q.bucket, kLimits, kStart + 4 * kTenth, 10, q.first.ready_ns);

	/* At 0.4 s the level is 4 - 11 = -7 tokens, as before the cancel. */
	EXPECT_EQ(bucket_peek(q.bucket, kLimits, kStart + 4 * kTenth).level, -7 * kToken);
	EXPECT_EQ(drain(q.bucket, kLimits, kStart + 4 * kTenth), 0);
	EXPECT_EQ(q.bucket.waiting, 1);
}

/* After a mid-queue cancel the next waiter keeps 1.1 s; a newcomer queues behind it. */
TEST(Cancel, MidQueueCancelLeavesLaterSlotsUnchanged)
{
	TwoWaiters q = two_waiters();

	bucket_cancel_wait(q.bucket, kLimits, kStart + 4 * kTenth, 10, q.first.ready_ns);

	Decision newcomer = bucket_reserve(q.bucket, kLimits, kStart + 4 * kTenth, 1, INT64_MAX);

	ASSERT_EQ(newcomer.outcome, Outcome::MustWait);
	EXPECT_EQ(newcomer.ready_ns, kStart + 12 * kTenth);
}

/* The cancelled slot stays spent even after everyone behind it has left. */
TEST(Cancel, MidQueueSlotStaysSpentAfterTheQueueBehindLeaves)
{
	TwoWaiters q = two_waiters();

	bucket_cancel_wait(q.bucket, kLimits, kStart + 4 * kTenth, 10, q.first.ready_ns);
	bucket_cancel_wait(q.bucket, kLimits, kStart + 6 * kTenth, 1, q.second.ready_ns);

	/* The second waiter's token came back: 6 - 10 = -4 tokens at 0.6 s. */
	EXPECT_EQ(bucket_peek(q.bucket, kLimits, kStart + 6 * kTenth).level, -4 * kToken);
	EXPECT_EQ(q.bucket.waiting, 0);

	/* The first waiter's 10 tokens are paid off at its old slot, 1.0 s. */
	Decision newcomer = bucket_reserve(q.bucket, kLimits, kStart + 6 * kTenth, 1, INT64_MAX);

	EXPECT_EQ(newcomer.ready_ns, kStart + 11 * kTenth);
}

/*
 * Capacity 1 at 1 token/s: a grant at 0 s, reservations for 1 s (cancelled
 * at 0.5 s) and 2 s.  A newcomer at 0.5 s must queue behind 2 s, at 3 s, so
 * no two tokens are granted at one instant by a bucket of capacity 1.
 */
TEST(Cancel, MidQueueCancelDoesNotDoubleBookASlot)
{
	const Limits limits = {1, per_second(1)};
	TokenBucket bucket = empty_bucket(limits);
	std::vector<Grant> grants = {{kStart, 1}};

	Decision a = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);
	Decision b = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);

	ASSERT_EQ(a.ready_ns, kStart + kSecond);
	ASSERT_EQ(b.ready_ns, kStart + 2 * kSecond);

	bucket_cancel_wait(bucket, limits, kStart + kSecond / 2, 1, a.ready_ns);

	Decision c = bucket_reserve(bucket, limits, kStart + kSecond / 2, 1, INT64_MAX);

	ASSERT_EQ(c.outcome, Outcome::MustWait);
	EXPECT_EQ(c.ready_ns, kStart + 3 * kSecond);

	grants.push_back({b.ready_ns, 1});
	grants.push_back({c.ready_ns, 1});

	EXPECT_TRUE(check_envelope(grants, limits).ok);
}

/* The newest of several waiters giving up frees its slot for the next caller. */
TEST(Cancel, TailCancelWithOthersWaitingStaysWithinTheEnvelope)
{
	const Limits limits = {1, per_second(1)};
	TokenBucket bucket = empty_bucket(limits);
	std::vector<Grant> grants = {{kStart, 1}};

	Decision a = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);
	Decision b = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);

	bucket_cancel_wait(bucket, limits, kStart + kSecond / 2, 1, b.ready_ns);

	Decision c = bucket_reserve(bucket, limits, kStart + kSecond / 2, 1, INT64_MAX);

	EXPECT_EQ(c.ready_ns, kStart + 2 * kSecond);

	grants.push_back({a.ready_ns, 1});
	grants.push_back({c.ready_ns, 1});

	EXPECT_TRUE(check_envelope(grants, limits).ok);
}

/*
 * A waiter that gives up only after a later waiter was served (its own slot
 * gone; the glue can do this when an interrupt lands just after the slot)
 * returns nothing, so no try_take shares that later grant's instant.
 */
TEST(Cancel, LateCancelCreatesNoToken)
{
	const Limits limits = {1, per_second(1)};
	TokenBucket bucket = empty_bucket(limits);

	Decision a = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);
	Decision b = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);

	bucket_finish_wait(bucket, b.ready_ns);

	bucket_cancel_wait(bucket, limits, b.ready_ns, 1, a.ready_ns);

	EXPECT_FALSE(bucket_try_take(bucket, limits, b.ready_ns, 1));
	EXPECT_EQ(bucket.waiting, 0);
}

/* The only waiter giving up at or after its slot returns nothing. */
TEST(Cancel, CancelAtOrAfterTheSlotReturnsNothing)
{
	for (int64_t late : {INT64_C(0), 50 * kMilli})
	{
		TokenBucket bucket = empty_bucket(kLimits);
		Decision d = bucket_reserve(bucket, kLimits, kStart, 3, INT64_MAX);

		bucket_cancel_wait(bucket, kLimits, d.ready_ns + late, 3, d.ready_ns);

		/* 10 tokens/s since the slot, from zero. */
		EXPECT_EQ(bucket_peek(bucket, kLimits, d.ready_ns + late).level, late * 10);
		EXPECT_EQ(drain(bucket, kLimits, d.ready_ns + kTenth), 1) << "late by " << late;
		EXPECT_EQ(bucket.waiting, 0);
	}
}

/*
 * Each cancel lowers the waiting counter, and a stray one never drives it
 * below zero; a repeated cancel is no longer the tail, so it returns nothing.
 */
TEST(Cancel, WaitingCounterFalls)
{
	TokenBucket bucket = empty_bucket(kLimits);

	Decision a = bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);
	Decision b = bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

	bucket_cancel_wait(bucket, kLimits, kStart, 1, a.ready_ns);

	EXPECT_EQ(bucket.waiting, 1);

	bucket_cancel_wait(bucket, kLimits, kStart, 1, b.ready_ns);

	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(bucket_peek(bucket, kLimits, kStart).level, -kToken);

	bucket_cancel_wait(bucket, kLimits, kStart, 1, b.ready_ns);

	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(bucket_peek(bucket, kLimits, kStart).level, -kToken);
}

/* A cancel is not a grant: the granted counter stays. */
TEST(Cancel, CountsNoGrant)
{
	TokenBucket bucket = empty_bucket(kLimits);
	uint64_t granted = bucket.granted;

	Decision d = bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

	bucket_cancel_wait(bucket, kLimits, kStart, 1, d.ready_ns);

	EXPECT_EQ(bucket.granted, granted);
}

} /* namespace */
