/*
 * cancel_test.cpp
 *		A waiter that gives up before its ticket is due returns its tokens,
 *		and every waiter behind it moves up by as many: the next one takes
 *		over the cancelled slot.  One that gives up once due returns nothing.
 *
 * Expected due times come from time_to_earn: the bucket starts empty with no
 * remainder at kStart, so a ticket is due the first instant the refill has
 * covered every token reserved up to it and still standing.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_cancel_wait;
using hacienda::bucket_finish_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_refill;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::Decision;
using hacienda::Outcome;
using hacienda::ticket_after_cancel;

const Limits kLimits = {20, per_second(10)};
const Limits kSevens = {20, per_second(7)}; /* slots fall between nanoseconds */
const int64_t kTenth = kSecond / 10;        /* one token's worth of time at 10 tokens/s */

/* A reservation the test holds: its ticket and its size. */
struct Held
{
	uint64_t ticket;
	int64_t tokens;
};

/* A bucket started at kStart with its whole burst taken. */
TokenBucket
empty_bucket(const Limits &limits)
{
	TokenBucket bucket;

	bucket_init(bucket, limits, kStart);
	drain(bucket, limits, kStart);
	return bucket;
}

/* Reserve tokens at now; the test expects them to have to wait. */
Held
reserve_waiting(TokenBucket &bucket, const Limits &limits, int64_t now, int64_t tokens)
{
	Decision d = bucket_reserve(bucket, limits, now, tokens, INT64_MAX);

	EXPECT_EQ(d.outcome, Outcome::MustWait) << tokens << " tokens at +" << now - kStart;
	return {d.ticket, tokens};
}

/*
 * Cancel queue[victim] at now and drop it from the queue; if its tokens came
 * back, move every other ticket as the glue does.  Returns what the core said.
 */
bool
cancel(TokenBucket &bucket, const Limits &limits, int64_t now, std::vector<Held> &queue,
	   size_t victim)
{
	Held gone = queue[victim];
	bool gave_back = bucket_cancel_wait(bucket, limits, now, gone.tokens, gone.ticket);

	queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(victim));
	if (gave_back)
		for (Held &other : queue)
			other.ticket = ticket_after_cancel(other.ticket, gone.ticket, gone.tokens);
	return gave_back;
}

/*
 * The first instant at or after from at which ticket is due, as the core
 * reports it, checked on copies: due then, and not one nanosecond earlier.
 */
int64_t
due_at(const TokenBucket &bucket, const Limits &limits, int64_t from, uint64_t ticket)
{
	int64_t due = from + wait_on_copy(bucket, limits, from, ticket);

	EXPECT_EQ(wait_on_copy(bucket, limits, due, ticket), 0);
	if (due > from)
	{
		EXPECT_EQ(wait_on_copy(bucket, limits, due - 1, ticket), 1);
	}
	return due;
}

/* The only waiter cancelling before it is due leaves the bucket as if it never asked. */
TEST(Cancel, BeforeDueGivesTokensBack)
{
	TokenBucket bucket = empty_bucket(kLimits);
	Decision d = bucket_reserve(bucket, kLimits, kStart, 3, INT64_MAX);

	ASSERT_EQ(d.outcome, Outcome::MustWait);
	ASSERT_EQ(d.ticket, static_cast<uint64_t>(3 * kToken));
	ASSERT_EQ(due_at(bucket, kLimits, kStart, d.ticket), kStart + 3 * kTenth);

	EXPECT_TRUE(bucket_cancel_wait(bucket, kLimits, kStart + 50 * kMilli, 3, d.ticket));

	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(bucket.reserved, 0u);
	EXPECT_EQ(bucket_peek(bucket, kLimits, kStart + 50 * kMilli).level, kToken / 2);

	/* The 50 ms already earned plus 50 ms more make one token, as with no reservation. */
	EXPECT_EQ(drain(bucket, kLimits, kStart + kTenth - 1), 0);
	EXPECT_EQ(drain(bucket, kLimits, kStart + kTenth), 1);
}

/* The only waiter giving up at or after its due instant returns nothing. */
TEST(Cancel, AtOrAfterDueGivesNothing)
{
	for (int64_t late : {INT64_C(0), INT64_C(1), 50 * kMilli})
	{
		TokenBucket bucket = empty_bucket(kLimits);
		Held held = reserve_waiting(bucket, kLimits, kStart, 3);
		int64_t due = kStart + 3 * kTenth;

		EXPECT_FALSE(bucket_cancel_wait(bucket, kLimits, due + late, 3, held.ticket))
			<< "late by " << late;

		/* 10 tokens/s since the due instant, from zero. */
		EXPECT_EQ(bucket_peek(bucket, kLimits, due + late).level, late * 10);
		EXPECT_EQ(drain(bucket, kLimits, due + kTenth - 1), 0) << "late by " << late;
		EXPECT_EQ(drain(bucket, kLimits, due + kTenth), 1) << "late by " << late;
		EXPECT_EQ(bucket.waiting, 0);
	}
}

/* A cancel is not a grant, nor a refusal: both counters stay. */
TEST(Cancel, CountsNoGrant)
{
	for (int64_t at : {kStart, kStart + kSecond})
	{
		TokenBucket bucket = empty_bucket(kLimits);
		uint64_t granted = bucket.granted;
		uint64_t rejected = bucket.rejected;
		Held held = reserve_waiting(bucket, kLimits, kStart, 1);

		bucket_cancel_wait(bucket, kLimits, at, 1, held.ticket);

		EXPECT_EQ(bucket.granted, granted);
		EXPECT_EQ(bucket.rejected, rejected);
	}
}

/* Each cancel lowers the waiting counter; a stray one never drives it below zero. */
TEST(Cancel, WaitingCounterFalls)
{
	TokenBucket bucket = empty_bucket(kLimits);
	std::vector<Held> queue;

	queue.push_back(reserve_waiting(bucket, kLimits, kStart, 1));
	queue.push_back(reserve_waiting(bucket, kLimits, kStart, 1));
	ASSERT_EQ(bucket.waiting, 2);

	EXPECT_TRUE(cancel(bucket, kLimits, kStart, queue, 0));
	EXPECT_EQ(bucket.waiting, 1);

	EXPECT_TRUE(cancel(bucket, kLimits, kStart, queue, 0));
	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(bucket_peek(bucket, kLimits, kStart).level, 0);

	/* Nothing is reserved, so the counter's own value is a ticket that is due. */
	EXPECT_FALSE(bucket_cancel_wait(bucket, kLimits, kStart, 1, bucket.reserved));
	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(bucket_peek(bucket, kLimits, kStart).level, 0);
}

/*
 * Capacity 1 at 1 token/s: A is due at 1 s, B at 2 s.  At 2 s B claims
 * first; A, due since 1 s, gives up only then.  Nothing comes back, so no
 * try_take shares B's instant.
 */
TEST(Cancel, LateCancelCreatesNoToken)
{
	const Limits limits = {1, per_second(1)};
	TokenBucket bucket = empty_bucket(limits);
	Held a = reserve_waiting(bucket, limits, kStart, 1);
	Held b = reserve_waiting(bucket, limits, kStart, 1);

	ASSERT_EQ(due_at(bucket, limits, kStart, b.ticket), kStart + 2 * kSecond);

	bucket_finish_wait(bucket, kStart + 2 * kSecond);

	EXPECT_FALSE(bucket_cancel_wait(bucket, limits, kStart + 2 * kSecond, 1, a.ticket));
	EXPECT_FALSE(bucket_try_take(bucket, limits, kStart + 2 * kSecond, 1));
	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(drain(bucket, limits, kStart + 3 * kSecond - 1), 0);
	EXPECT_EQ(drain(bucket, limits, kStart + 3 * kSecond), 1);
}

/*
 * Three waiters of 2 tokens at 7 tokens/s.  The middle one gives up; the last
 * becomes due exactly when the middle one would have been, the first keeps
 * its ticket and its due time.
 */
TEST(Cancel, MidQueueCancelHandsItsSlotToTheNext)
{
	TokenBucket bucket = empty_bucket(kSevens);
	std::vector<Held> queue;

	for (int k = 0; k < 3; k++)
		queue.push_back(reserve_waiting(bucket, kSevens, kStart, 2));

	uint64_t first = queue[0].ticket;
	uint64_t last = queue[2].ticket;
	int64_t middle_due = kStart + time_to_earn(kSevens.rate, 4);

	ASSERT_EQ(due_at(bucket, kSevens, kStart, queue[1].ticket), middle_due);
	ASSERT_EQ(due_at(bucket, kSevens, kStart, last), kStart + time_to_earn(kSevens.rate, 6));

	ASSERT_TRUE(cancel(bucket, kSevens, kStart + 100 * kMilli, queue, 1));

	EXPECT_EQ(queue[0].ticket, first);
	EXPECT_EQ(queue[1].ticket, last - static_cast<uint64_t>(2 * kToken));
	EXPECT_EQ(due_at(bucket, kSevens, kStart + 100 * kMilli, queue[0].ticket),
			  kStart + time_to_earn(kSevens.rate, 2));
	EXPECT_EQ(due_at(bucket, kSevens, kStart + 100 * kMilli, queue[1].ticket), middle_due);
	EXPECT_EQ(bucket.waiting, 2);
}

/*
 * At 7 tokens/s, 2 tokens then 3 then 1: cancelling the 3 moves the 1 up
 * from 6 tokens' worth of refill to 3; cancelling a 1 in front of a 3 moves
 * the 3 up by one token's worth.
 */
TEST(Cancel, WaitersMoveUpByTheCancelledTokens)
{
	const int64_t at = kStart + 100 * kMilli;

	for (bool big_first : {true, false})
	{
		TokenBucket bucket = empty_bucket(kSevens);
		std::vector<Held> queue;
		int64_t cancelled = big_first ? 3 : 1;
		int64_t behind = big_first ? 1 : 3;

		queue.push_back(reserve_waiting(bucket, kSevens, kStart, 2));
		queue.push_back(reserve_waiting(bucket, kSevens, kStart, cancelled));
		queue.push_back(reserve_waiting(bucket, kSevens, kStart, behind));

		int64_t before = due_at(bucket, kSevens, kStart, queue[2].ticket);

		ASSERT_EQ(before, kStart + time_to_earn(kSevens.rate, 2 + cancelled + behind));
		ASSERT_TRUE(cancel(bucket, kSevens, at, queue, 1));

		EXPECT_EQ(due_at(bucket, kSevens, at, queue[1].ticket),
				  kStart + time_to_earn(kSevens.rate, 2 + behind))
			<< cancelled << " cancelled in front of " << behind;
		EXPECT_EQ(due_at(bucket, kSevens, at, queue[0].ticket),
				  kStart + time_to_earn(kSevens.rate, 2));
	}
}

/*
 * Capacity 1 at 1 token/s: one grant at 0 s, then A due at 1 s and B at 2 s.
 * A gives up at 0.5 s, so B is due at 1 s; a newcomer at 0.5 s queues behind
 * B, at 2 s, which is the earliest the envelope allows a third token.
 */
TEST(Cancel, NewcomerQueuesBehindTheRemainingWaiters)
{
	const Limits limits = {1, per_second(1)};
	const int64_t half = kStart + kSecond / 2;
	TokenBucket bucket = empty_bucket(limits);
	std::vector<Held> queue;
	std::vector<Grant> grants = {{kStart, 1}};

	queue.push_back(reserve_waiting(bucket, limits, kStart, 1));
	queue.push_back(reserve_waiting(bucket, limits, kStart, 1));
	ASSERT_TRUE(cancel(bucket, limits, half, queue, 0));
	ASSERT_EQ(due_at(bucket, limits, half, queue[0].ticket), kStart + kSecond);

	Decision c = bucket_reserve(bucket, limits, half, 1, INT64_MAX);

	ASSERT_EQ(c.outcome, Outcome::MustWait);
	EXPECT_EQ(c.ticket, queue[0].ticket + static_cast<uint64_t>(kToken));
	EXPECT_EQ(c.wait_ns, 3 * kSecond / 2);
	EXPECT_EQ(due_at(bucket, limits, half, c.ticket), kStart + 2 * kSecond);

	/* B claims at 1 s, leaving nothing for a try_take then. */
	bucket_finish_wait(bucket, kStart + kSecond);
	grants.push_back({kStart + kSecond, 1});
	EXPECT_FALSE(bucket_try_take(bucket, limits, kStart + kSecond, 1));
	EXPECT_FALSE(bucket_try_take(bucket, limits, kStart + 2 * kSecond, 1));

	grants.push_back({kStart + 2 * kSecond, 1});
	EXPECT_TRUE(check_envelope(grants, limits).ok);

	/* One nanosecond earlier would have been over the envelope. */
	grants.back().at--;
	EXPECT_FALSE(check_envelope(grants, limits).ok);
}

/*
 * Five waiters at 7 tokens/s give up one by one, from the middle, the tail
 * and the head.  After each cancel every remaining waiter is due when the
 * refill covers the tokens still reserved up to it, or at once if it has.
 */
TEST(Cancel, SeveralCancelsKeepEveryDueTimeExact)
{
	const int64_t tokens[] = {3, 1, 4, 1, 5};
	const size_t victims[] = {1, 1, 2, 0}; /* positions in the queue as it then is */
	const int64_t when[] = {50 * kMilli, 120 * kMilli, 200 * kMilli, 300 * kMilli};
	TokenBucket bucket = empty_bucket(kSevens);
	std::vector<Held> queue;
	uint64_t total = 0;

	for (int64_t n : tokens)
	{
		queue.push_back(reserve_waiting(bucket, kSevens, kStart, n));
		total += static_cast<uint64_t>(n * kToken);
		EXPECT_EQ(queue.back().ticket, total);
	}

	for (size_t step = 0; step < 4; step++)
	{
		int64_t now = kStart + when[step];
		int64_t ahead = 0;

		ASSERT_TRUE(cancel(bucket, kSevens, now, queue, victims[step])) << "step " << step;
		ASSERT_EQ(bucket.waiting, static_cast<int32_t>(queue.size()));
		for (size_t k = 0; k < queue.size(); k++)
		{
			ahead += queue[k].tokens;
			EXPECT_EQ(due_at(bucket, kSevens, now, queue[k].ticket),
					  std::max(now, kStart + time_to_earn(kSevens.rate, ahead)))
				<< "step " << step << ", waiter " << k;
		}
	}

	/* Only the 1-token waiter is left, due since 1/7 s; it claims at 0.3 s. */
	ASSERT_EQ(queue.size(), 1u);
	EXPECT_EQ(queue[0].tokens, 1);
	bucket_finish_wait(bucket, kStart + 300 * kMilli);
	EXPECT_EQ(bucket.waiting, 0);

	/* 7 tokens/s for 0.3 s is 2.1 tokens, less the one token just claimed. */
	EXPECT_EQ(bucket_peek(bucket, kSevens, kStart + 300 * kMilli).level, 21 * kToken / 10 - kToken);
}

/* A reset forgives the debt: every ticket is due, and cancelling one returns nothing. */
TEST(Cancel, RefillMakesEveryTicketDue)
{
	const int64_t at = kStart + 50 * kMilli;
	TokenBucket bucket = empty_bucket(kLimits);
	std::vector<Held> queue;

	for (int64_t n : {5, 2, 7})
		queue.push_back(reserve_waiting(bucket, kLimits, kStart, n));

	bucket_refill(bucket, kLimits, at);

	for (const Held &held : queue)
		EXPECT_EQ(due_at(bucket, kLimits, at, held.ticket), at);
	EXPECT_FALSE(cancel(bucket, kLimits, at, queue, 1));
	bucket_finish_wait(bucket, at);
	bucket_finish_wait(bucket, at);

	EXPECT_EQ(bucket.waiting, 0);
	EXPECT_EQ(drain(bucket, kLimits, at), kLimits.capacity);
}

/* A ticket behind the cancelled one moves up by its tokens; one ahead, or itself, stays. */
TEST(TicketAfterCancel, MovesOnlyTicketsBehind)
{
	const uint64_t token = static_cast<uint64_t>(kToken);
	const uint64_t near_wrap = UINT64_MAX - token + 1; /* 2^64 - 1 token */

	EXPECT_EQ(ticket_after_cancel(5 * token, 3 * token, 2), 3 * token);
	EXPECT_EQ(ticket_after_cancel(3 * token, 3 * token, 2), 3 * token);
	EXPECT_EQ(ticket_after_cancel(token, 3 * token, 2), token);

	/* Counting modulo 2^64: a ticket past the wrap is behind one just before it. */
	EXPECT_EQ(ticket_after_cancel(2 * token, near_wrap, 1), token);
	EXPECT_EQ(ticket_after_cancel(token / 2, near_wrap, 1), UINT64_MAX - token / 2 + 1);
	EXPECT_EQ(ticket_after_cancel(near_wrap - token, near_wrap, 1), near_wrap - token);
	EXPECT_EQ(ticket_after_cancel(near_wrap, 2 * token, 1), near_wrap);
}

} /* namespace */
