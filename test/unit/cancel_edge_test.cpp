/*
 * cancel_edge_test.cpp
 *		Give-backs at the edges: after the capacity shrank under a queue, and
 *		by a due ticket that was left unclaimed while the ticket counter ran
 *		on by more than the deepest debt.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_cancel_wait;
using hacienda::bucket_finish_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_ticket_wait;
using hacienda::bucket_try_take;
using hacienda::Decision;
using hacienda::Outcome;
using hacienda::ticket_after_cancel;

/*
 * Capacity 3 shrinks to 1 with 3 tokens queued ahead of 1.  When the 3 are
 * given back at 2.5 s, the one behind is served from them, and nothing else
 * is left: without the big reservation it would have been served at 1 s and
 * the bucket would hold 1 token by 2.5 s, not 2.
 */
TEST(CancelEdge, GiveBackAfterShrinkLeavesTheDebtBehindOwed)
{
	const Limits big = {3, per_second(1)};
	const Limits small = {1, per_second(1)};
	const int64_t later = kStart + 2500 * kMilli;
	TokenBucket bucket;

	bucket_init(bucket, big, kStart);
	ASSERT_TRUE(bucket_try_take(bucket, big, kStart, 3));
	Decision ahead = bucket_reserve(bucket, big, kStart, 3, INT64_MAX);
	Decision behind = bucket_reserve(bucket, small, kStart, 1, INT64_MAX);
	ASSERT_EQ(ahead.outcome, Outcome::MustWait);
	ASSERT_EQ(behind.outcome, Outcome::MustWait);
	ASSERT_EQ(behind.wait_ns, 4 * kSecond);

	ASSERT_TRUE(bucket_cancel_wait(bucket, small, later, 3, ahead.ticket));
	uint64_t moved = ticket_after_cancel(behind.ticket, ahead.ticket, 3);

	EXPECT_EQ(bucket_ticket_wait(bucket, small, later, moved), 0);
	bucket_finish_wait(bucket, later);
	EXPECT_EQ(bucket_peek(bucket, small, later).level, 0);
	EXPECT_FALSE(bucket_try_take(bucket, small, later, 1));
	EXPECT_TRUE(bucket_try_take(bucket, small, later + kSecond, 1));
}

/*
 * A ticket due at its slot but never claimed, while 1.2 * 10^10 tokens are
 * reserved and served behind it: more than 2^63 nanotokens, so the counter
 * distance would wrap.  It stays due, and giving up returns nothing.
 */
TEST(CancelEdge, UnclaimedDueTicketStaysDueAfterTheCounterRunsOn)
{
	const Limits limits = {1000000, per_second(1000000)};
	TokenBucket bucket;
	int64_t now = kStart;

	bucket_init(bucket, limits, now);
	ASSERT_TRUE(bucket_try_take(bucket, limits, now, 1000000));
	Decision late = bucket_reserve(bucket, limits, now, 1, INT64_MAX);
	ASSERT_EQ(late.outcome, Outcome::MustWait);
	now += late.wait_ns;
	ASSERT_EQ(bucket_ticket_wait(bucket, limits, now, late.ticket), 0);

	for (int round = 0; round < 3; round++)
	{
		for (int k = 0; k < 4000; k++)
			ASSERT_EQ(bucket_reserve(bucket, limits, now, 1000000, INT64_MAX).outcome,
					  Outcome::MustWait);
		now += 4000 * kSecond;
		for (int k = 0; k < 4000; k++)
			bucket_finish_wait(bucket, now);
	}

	EXPECT_EQ(bucket_ticket_wait(bucket, limits, now, late.ticket), 0);
	EXPECT_FALSE(bucket_cancel_wait(bucket, limits, now, 1, late.ticket));
	EXPECT_EQ(bucket_peek(bucket, limits, now).level, 0);
}

} /* namespace */
