/*
 * demand_test.cpp
 *		Under constant demand, served by a mix of try_take, reserve and
 *		cancels, the grants never exceed the exact envelope, and they keep up
 *		with the refill: up to any time T, the tokens granted plus those
 *		spent by waiters that gave up only once due are at least
 *		capacity + rate * T - 1.  A waiter that gives up before it is due
 *		costs nothing, wherever it stands in the queue, since the waiters
 *		behind it move up into its slot.
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
using hacienda::bucket_reserve;
using hacienda::bucket_ticket_wait;
using hacienda::Decision;
using hacienda::Outcome;
using hacienda::ticket_after_cancel;

/* Who waits, and who gives up. */
enum class Queue
{
	One, /* a single waiter at a time; it may give up before it is due */
	Many /* up to four; any may give up, from mid-queue or once due */
};

struct Demand
{
	int64_t rate;
	int64_t capacity;
	Spacing spacing;
	Queue queue;
	int steps;
};

class ConstantDemand : public ::testing::TestWithParam<Demand>
{
};

/* x * 10^18 > capacity * 10^18 + rate * elapsed, i.e. x > capacity + rate * T. */
bool
above_supply(int64_t x, const Limits &limits, int64_t elapsed)
{
	return static_cast<i128>(x) * kE18 >
		   static_cast<i128>(limits.capacity) * kE18 + static_cast<i128>(limits.rate) * elapsed;
}

/* True with probability p, to a millionth. */
bool
chance(Rng &rng, double p)
{
	return static_cast<double>(rng.next() % 1000000) < p * 1e6;
}

/*
 * One run.  Requests are for one token each; the live waiters are kept in
 * arrival order with their tickets, and each claims its token the instant it
 * is due, so at every step no live waiter is due yet.
 */
class DemandRun
{
public:
	explicit DemandRun(const Demand &demand)
		: limits_{demand.capacity, demand.rate}, many_(demand.queue == Queue::Many),
		  rng_(static_cast<uint64_t>(demand.rate) * 3 + static_cast<uint64_t>(demand.spacing) +
			   (many_ ? 1000 : 0))
	{
		bucket_init(bucket_, limits_, now_);
	}

	/*
	 * The waiters look at their tickets in arrival order; the due ones form a
	 * prefix of the queue.  Each claims its token, or (with a queue) now and
	 * then gives up just as it is due, which must return nothing.
	 */
	void
	poll()
	{
		size_t due = 0;

		while (due < tickets_.size() &&
			   bucket_ticket_wait(bucket_, limits_, now_, tickets_[due]) == 0)
			due++;
		for (size_t k = due; k < tickets_.size(); k++)
		{
			ASSERT_GT(bucket_ticket_wait(bucket_, limits_, now_, tickets_[k]), 0)
				<< "waiter " << k << " due before one that arrived earlier";
		}

		for (size_t k = 0; k < due; k++)
		{
			if (many_ && rng_.next() % 8 == 0)
			{
				ASSERT_FALSE(bucket_cancel_wait(bucket_, limits_, now_, 1, tickets_[k]));
				late_++;
				continue;
			}
			bucket_finish_wait(bucket_, now_);
			grants_.push_back({now_, 1});
			total_++;
		}
		tickets_.erase(tickets_.begin(), tickets_.begin() + static_cast<std::ptrdiff_t>(due));
	}

	/* Move the clock to target, stopping each time the first waiter becomes due. */
	void
	advance_to(int64_t target)
	{
		while (!tickets_.empty())
		{
			int64_t wait = wait_on_copy(bucket_, limits_, now_, tickets_.front());

			if (wait > target - now_)
				break;
			now_ += wait;
			poll();
			if (::testing::Test::HasFatalFailure())
				return;
		}
		now_ = target;
		poll();
	}

	/* Waiter victim gives up before it is due: exactly one token comes back. */
	void
	cancel(size_t victim)
	{
		uint64_t gone = tickets_[victim];
		int64_t before = bucket_peek(bucket_, limits_, now_).level;

		ASSERT_TRUE(bucket_cancel_wait(bucket_, limits_, now_, 1, gone));
		ASSERT_EQ(bucket_peek(bucket_, limits_, now_).level, before + kToken);

		tickets_.erase(tickets_.begin() + static_cast<std::ptrdiff_t>(victim));
		for (uint64_t &ticket : tickets_)
			ticket = ticket_after_cancel(ticket, gone, 1);
		given_back_++;
		if (victim < tickets_.size())
			mid_queue_++;
		poll();
	}

	/* Take tokens one by one until a reservation has to wait; nobody may be waiting before. */
	void
	reserve_until_waiting()
	{
		Decision d;

		while ((d = bucket_reserve(bucket_, limits_, now_, 1, INT64_MAX)).outcome ==
			   Outcome::Granted)
		{
			ASSERT_TRUE(tickets_.empty()) << "granted at once ahead of a waiter";
			grants_.push_back({now_, 1});
			total_++;
		}
		ASSERT_EQ(d.outcome, Outcome::MustWait);
		if (!tickets_.empty())
		{
			ASSERT_EQ(d.ticket, tickets_.back() + static_cast<uint64_t>(kToken));
		}
		tickets_.push_back(d.ticket);
	}

	/*
	 * Every step someone is asking: either the bucket was just drained by
	 * try_take, or someone holds a reservation.  Waiters give up now and
	 * then; with a queue, about one cancel for every two tokens earned.
	 */
	void
	step(double earned)
	{
		if (!tickets_.empty() && (many_ ? chance(rng_, earned / 2) : rng_.next() % 8 == 0))
			cancel(many_ ? static_cast<size_t>(rng_.next() % tickets_.size()) : 0);
		if (::testing::Test::HasFatalFailure())
			return;

		if (tickets_.empty() && rng_.next() % 2 == 0)
		{
			int64_t got = drain(bucket_, limits_, now_);

			grants_.push_back({now_, got});
			total_ += got;
		}
		else if (tickets_.empty() || (many_ && tickets_.size() < 4 && chance(rng_, earned)))
			reserve_until_waiting();
	}

	Limits limits_;
	bool many_;
	Rng rng_;
	TokenBucket bucket_;
	int64_t now_ = kStart;
	std::vector<uint64_t> tickets_; /* live waiters, in arrival order */
	std::vector<Grant> grants_;
	int64_t total_ = 0;      /* tokens granted */
	int64_t late_ = 0;       /* tokens of waiters that gave up once due */
	int64_t given_back_ = 0; /* cancels before due */
	int64_t mid_queue_ = 0;  /* of which, with someone behind */
};

/*
 * Demand always present, so the bucket never sits full: whatever the refill
 * earned has been granted, spent by a late cancel, or is owed to a waiter not
 * yet due, and the debt of those waiters covers their own tokens.  Hence
 * granted + late > capacity + rate * T - 1 at every step.
 */
TEST_P(ConstantDemand, GrantsKeepUpWithTheRefill)
{
	const Demand demand = GetParam();
	DemandRun run(demand);
	double earned = 0; /* tokens earned in the last gap, roughly */

	for (int step = 0; step < demand.steps; step++)
	{
		int64_t gap = next_gap(demand.spacing, run.rng_);

		run.step(earned);
		ASSERT_FALSE(HasFatalFailure()) << "step " << step;
		ASSERT_EQ(run.bucket_.waiting, static_cast<int32_t>(run.tickets_.size()));
		ASSERT_TRUE(above_supply(run.total_ + run.late_ + 1, run.limits_, run.now_ - kStart))
			<< "step " << step << ": " << run.total_ << " granted, " << run.late_ << " late";

		run.advance_to(run.now_ + gap);
		ASSERT_FALSE(HasFatalFailure()) << "step " << step;
		earned = static_cast<double>(demand.rate) * static_cast<double>(gap) / 1e18;
	}

	EnvelopeCheck check = check_envelope(run.grants_, run.limits_);

	EXPECT_TRUE(check.ok) << "window [+" << check.from_ns - kStart << ", +" << check.to_ns - kStart
						  << "] ns over by " << static_cast<double>(check.excess) / 1e18
						  << " tokens";
	EXPECT_EQ(run.bucket_.granted, static_cast<uint64_t>(run.total_)); /* one token a request */
	EXPECT_GT(run.given_back_, 10);
	if (run.many_)
	{
		EXPECT_GT(run.mid_queue_, 10);
		EXPECT_GT(run.late_, 5);
	}
	else
	{
		EXPECT_EQ(run.mid_queue_ + run.late_, 0);
	}
}

/* Capacities hold more than one gap's earnings, so the bucket never overflows unseen. */
const Demand kDemands[] = {
	{10000000, 2, Spacing::ThirtySeven, Queue::One, 300000},
	{10000000, 2, Spacing::ThirtySeven, Queue::Many, 300000},
	{333333333, 3, Spacing::Irregular, Queue::One, 100000},
	{333333333, 3, Spacing::Irregular, Queue::Many, 100000},
	{per_second(7), 10, Spacing::OneMilli, Queue::One, 100000},
	{per_second(7), 10, Spacing::OneMilli, Queue::Many, 100000},
	{per_second(10), 20, Spacing::Irregular, Queue::One, 100000},
	{per_second(10), 20, Spacing::Irregular, Queue::Many, 100000},
	{per_second(1000), 200, Spacing::Irregular, Queue::One, 30000},
	{per_second(1000), 200, Spacing::Irregular, Queue::Many, 30000},
	{per_second(1000000), 200, Spacing::Tight, Queue::One, 300000},
	{per_second(1000000), 200, Spacing::Tight, Queue::Many, 300000},
};

INSTANTIATE_TEST_SUITE_P(Demands, ConstantDemand, ::testing::ValuesIn(kDemands),
						 [](const ::testing::TestParamInfo<Demand> &info)
						 {
							 return "rate" + std::to_string(info.param.rate) + "_" +
									spacing_name(info.param.spacing) +
									(info.param.queue == Queue::Many ? "_queue" : "_one");
						 });

} /* namespace */
