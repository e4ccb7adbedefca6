/*
 * mixed_envelope_test.cpp
 *		The central invariant for runs that mix try_take, reserve and cancels.
 *
 * Live waiters are kept in arrival order with their tickets; each claims its
 * tokens the instant bucket_ticket_wait says it is due, and that instant
 * stamps its grant.  Waiters give up (only the newest, or any) before they
 * are due, which moves those behind up, or at and after it, which returns
 * nothing.  The grants keep the exact envelope, waiters are due in arrival
 * order, nothing is granted at once ahead of a waiter not yet due, and every
 * ticket is what the test's own count of reserved tokens says.
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
using hacienda::bucket_try_take;
using hacienda::deadline_after;
using hacienda::Decision;
using hacienda::Outcome;
using hacienda::ticket_after_cancel;

/* A live reservation, as its waiter holds it. */
struct Waiter
{
	uint64_t ticket; /* as the core gave it, moved by ticket_after_cancel */
	uint64_t model;  /* as the test's own count says it must be */
	int64_t tokens;
	int64_t due_ns; /* INT64_MAX until found due; a due waiter still here lingers */
};

/* Which waiters give up. */
enum class Cancels
{
	None,
	Newest, /* only the most recent waiter, always before it is due */
	Any     /* any waiter, mid-queue included, and some at or after they are due */
};

struct Mix
{
	int64_t rate;
	int64_t capacity;
	int64_t max_tokens;
	Spacing spacing;
	Cancels cancels;
	int steps;
};

/* Test name parts, in the order of Cancels. */
const char *const kCancelsNames[] = {"nocancel", "cancelnewest", "cancelany"};

/* A simulated run: requests, their grant times, and the bucket's own counters. */
class Simulation
{
public:
	explicit Simulation(const Mix &mix)
		: mix_(mix), limits_{mix.capacity, mix.rate},
		  rng_(static_cast<uint64_t>(mix.rate) * 131 + static_cast<uint64_t>(mix.spacing) * 7 +
			   static_cast<uint64_t>(mix.cancels))
	{
		bucket_init(bucket_, limits_, now_);

		/* Start the ticket counter just short of 2^64, so every run crosses the wrap. */
		model_reserved_ = UINT64_C(0) - static_cast<uint64_t>(3 * mix.capacity * kToken);
		bucket_.reserved = model_reserved_;
	}

	/* Whether some live waiter is not yet due. */
	bool
	blocked() const
	{
		return std::any_of(waiters_.begin(), waiters_.end(),
						   [](const Waiter &w) { return w.due_ns == INT64_MAX; });
	}

	/* A waiter gives up at or after its due instant: nothing may come back. */
	void
	late_cancel(const Waiter &waiter)
	{
		int64_t before = bucket_peek(bucket_, limits_, now_).level;

		EXPECT_FALSE(bucket_cancel_wait(bucket_, limits_, now_, waiter.tokens, waiter.ticket));
		EXPECT_EQ(bucket_peek(bucket_, limits_, now_).level, before);
		late_++;
	}

	/*
	 * Every waiter looks at its ticket, in arrival order.  Due times follow
	 * that order, and a waiter once due stays due.  A newly due one claims
	 * its tokens now or, with Cancels::Any, now and then gives up now or
	 * lingers; a lingering one gives up at some later look.
	 */
	void
	poll()
	{
		std::vector<Waiter> live;
		int64_t previous = 0;

		for (Waiter &w : waiters_)
		{
			int64_t wait = bucket_ticket_wait(bucket_, limits_, now_, w.ticket);

			EXPECT_GE(wait, previous) << "out of arrival order at +" << now_ - kStart;
			EXPECT_TRUE(wait == 0 || w.due_ns == INT64_MAX) << "due once, and no longer";
			previous = wait;
			if (wait > 0)
				live.push_back(w);
			else if (w.due_ns == INT64_MAX)
			{
				int64_t roll = mix_.cancels == Cancels::Any ? rng_.between(0, 15) : 15;

				w.due_ns = now_;
				if (roll == 0)
					live.push_back(w);
				else if (roll <= 2)
					late_cancel(w);
				else
				{
					bucket_finish_wait(bucket_, now_);
					grants_.push_back({now_, w.tokens});
				}
			}
			else if (now_ > w.due_ns && rng_.next() % 4 == 0)
				late_cancel(w);
			else
				live.push_back(w);
		}
		waiters_ = live;
	}

	/*
	 * Move the clock to target, stopping at each instant a waiter becomes due.
	 * The core's wait must be exact: not due one nanosecond earlier, due then.
	 */
	void
	advance_to(int64_t target)
	{
		for (;;)
		{
			auto head = std::find_if(waiters_.begin(), waiters_.end(),
									 [](const Waiter &w) { return w.due_ns == INT64_MAX; });

			if (head == waiters_.end())
				break;

			int64_t wait = wait_on_copy(bucket_, limits_, now_, head->ticket);

			if (wait > target - now_)
				break;
			if (wait > 0)
			{
				EXPECT_EQ(wait_on_copy(bucket_, limits_, now_ + wait - 1, head->ticket), 1);
				EXPECT_EQ(wait_on_copy(bucket_, limits_, now_ + wait, head->ticket), 0);
			}
			now_ += wait;
			poll();
		}
		now_ = target;
		poll();
	}

	/* A caller takes tokens if they are there; never while a waiter is not yet due. */
	void
	try_take()
	{
		int64_t tokens = rng_.between(1, mix_.max_tokens);
		bool waiting = blocked();

		if (bucket_try_take(bucket_, limits_, now_, tokens))
		{
			EXPECT_FALSE(waiting) << "try_take granted ahead of a waiter";
			grants_.push_back({now_, tokens});
		}
	}

	/*
	 * A caller reserves, with a random timeout.  A waiter's ticket is the
	 * test's running count of tokens reserved and not given back, and its
	 * wait is what bucket_ticket_wait says for that ticket.
	 */
	void
	reserve()
	{
		int64_t tokens = rng_.between(1, mix_.max_tokens);
		int64_t max_wait = pick_max_wait(tokens);
		bool waiting = blocked();
		int64_t tail_wait =
			waiters_.empty() ? -1 : wait_on_copy(bucket_, limits_, now_, waiters_.back().ticket);
		Decision decision = bucket_reserve(bucket_, limits_, now_, tokens, max_wait);

		if (decision.outcome == Outcome::Granted)
		{
			EXPECT_FALSE(waiting) << "reserve granted ahead of a waiter";
			grants_.push_back({now_, tokens});
		}
		else if (decision.outcome == Outcome::MustWait)
		{
			model_reserved_ += static_cast<uint64_t>(tokens * kToken);

			/* First come, first served: due after everyone already queued. */
			EXPECT_GT(decision.wait_ns, tail_wait);
			EXPECT_LE(decision.wait_ns, max_wait);
			EXPECT_EQ(decision.ready_ns, deadline_after(now_, decision.wait_ns));
			EXPECT_EQ(decision.ticket, model_reserved_);
			EXPECT_EQ(wait_on_copy(bucket_, limits_, now_, decision.ticket), decision.wait_ns);
			waiters_.push_back({decision.ticket, model_reserved_, tokens, INT64_MAX});
		}
		else
			EXPECT_GT(decision.wait_ns, max_wait);
	}

	/*
	 * A waiter gives up.  Before it is due its tokens come back exactly and
	 * every other ticket moves through ticket_after_cancel; the test's own
	 * count moves those that arrived later.  The woken waiters then look.
	 */
	void
	cancel()
	{
		if (waiters_.empty() || mix_.cancels == Cancels::None)
			return;

		size_t victim = mix_.cancels == Cancels::Newest
							? waiters_.size() - 1
							: static_cast<size_t>(rng_.next() % waiters_.size());
		Waiter gone = waiters_[victim];

		waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(victim));
		if (gone.due_ns != INT64_MAX)
		{
			late_cancel(gone);
			return;
		}

		int64_t before = bucket_peek(bucket_, limits_, now_).level;

		ASSERT_TRUE(bucket_cancel_wait(bucket_, limits_, now_, gone.tokens, gone.ticket));
		EXPECT_EQ(bucket_peek(bucket_, limits_, now_).level, before + gone.tokens * kToken);

		model_reserved_ -= static_cast<uint64_t>(gone.tokens * kToken);
		for (size_t k = 0; k < waiters_.size(); k++)
		{
			waiters_[k].ticket = ticket_after_cancel(waiters_[k].ticket, gone.ticket, gone.tokens);
			if (k >= victim)
				waiters_[k].model -= static_cast<uint64_t>(gone.tokens * kToken);
			EXPECT_EQ(waiters_[k].ticket, waiters_[k].model);
		}
		given_back_++;
		if (victim < waiters_.size())
			mid_queue_++;
		poll();
	}

	/* About three times as many tokens requested as the gap earns, rounded at random. */
	int64_t
	calls_for(int64_t gap)
	{
		double earned = static_cast<double>(mix_.rate) * static_cast<double>(gap) / 1e18;
		double calls = 3.0 * earned * 2.0 / static_cast<double>(mix_.max_tokens + 1);
		double fraction = calls - static_cast<double>(static_cast<int64_t>(calls));
		int64_t whole = static_cast<int64_t>(calls);

		if (static_cast<double>(rng_.next() % 1000000) < fraction * 1e6)
			whole++;
		return std::min<int64_t>(whole, 50);
	}

	/* One gap of time, then a burst of calls at its end. */
	void
	step()
	{
		int64_t gap = next_gap(mix_.spacing, rng_);

		advance_to(now_ + gap);
		for (int64_t calls = calls_for(gap); calls > 0; calls--)
		{
			int64_t roll = rng_.between(0, 99);

			if (roll < 15)
				cancel();
			else if (roll < 55)
				try_take();
			else
				reserve();
		}
	}

	/* Let every remaining waiter become due; those that linger give up a second later. */
	void
	finish_all()
	{
		while (blocked())
			advance_to(now_ + kSecond);
		now_ += kSecond;
		for (const Waiter &w : waiters_)
			late_cancel(w);
		waiters_.clear();
	}

	/* A timeout: none, short, long, or (when the queue is short) unbounded. */
	int64_t
	pick_max_wait(int64_t tokens)
	{
		int64_t per_request = time_to_earn(mix_.rate, tokens);

		switch (rng_.next() % 4)
		{
			case 0:
				return 0;
			case 1:
				return rng_.between(0, 3 * per_request);
			case 2:
				return 20 * per_request;
			default:
				/* Unbounded waits, but not so many that the debt only grows. */
				return bucket_peek(bucket_, limits_, now_).retry_after_ns < 10 * per_request
						   ? INT64_MAX
						   : 20 * per_request;
		}
	}

	Mix mix_;
	Limits limits_;
	Rng rng_;
	TokenBucket bucket_;
	int64_t now_ = kStart;
	std::vector<Waiter> waiters_; /* live, in arrival order */
	uint64_t model_reserved_;     /* the ticket counter as the test counts it */
	int64_t given_back_ = 0;      /* cancels before due */
	int64_t mid_queue_ = 0;       /* of which, with someone behind */
	int64_t late_ = 0;            /* cancels at or after due */
	std::vector<Grant> grants_;
};

class MixedEnvelope : public ::testing::TestWithParam<Mix>
{
};

/*
 * try_take, reserve and cancels interleaved never grant more than
 * capacity + rate * (b - a) over any [a, b], with no allowance for cancels;
 * the bucket's counters agree with the run's.
 */
TEST_P(MixedEnvelope, NoWindowExceedsTheEnvelope)
{
	Simulation sim(GetParam());

	for (int step = 0; step < sim.mix_.steps; step++)
	{
		sim.step();
		ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "step " << step;
		ASSERT_EQ(sim.bucket_.waiting, static_cast<int32_t>(sim.waiters_.size()));
	}

	sim.finish_all();

	EXPECT_EQ(sim.bucket_.granted, sim.grants_.size());
	EXPECT_EQ(sim.bucket_.waiting, 0);
	EXPECT_EQ(sim.bucket_.reserved, sim.model_reserved_);
	EXPECT_GT(sim.grants_.size(), 50u);
	if (sim.mix_.cancels != Cancels::None)
	{
		EXPECT_GT(sim.given_back_, 10);
	}
	if (sim.mix_.cancels == Cancels::Any)
	{
		EXPECT_GT(sim.mid_queue_, 10);
		EXPECT_GT(sim.late_, 5);
	}
	else
	{
		EXPECT_EQ(sim.mid_queue_ + sim.late_, 0);
	}

	EnvelopeCheck check = check_envelope(sim.grants_, sim.limits_);

	EXPECT_TRUE(check.ok) << "window [+" << check.from_ns - kStart << ", +" << check.to_ns - kStart
						  << "] ns over by " << static_cast<double>(check.excess) / 1e18
						  << " tokens";
}

/* Enough steps for several hundred tokens of refill in each run. */
const Mix kMixes[] = {
	{333333333, 3, 2, Spacing::Irregular, Cancels::None, 150000},
	{333333333, 3, 2, Spacing::ThirtySeven, Cancels::Newest, 50000},
	{333333333, 3, 2, Spacing::ThirtySeven, Cancels::Any, 50000},
	{per_second(7), 10, 4, Spacing::OneMilli, Cancels::None, 100000},
	{per_second(7), 10, 4, Spacing::OneMilli, Cancels::Newest, 100000},
	{per_second(7), 10, 4, Spacing::OneMilli, Cancels::Any, 100000},
	{per_second(10), 20, 5, Spacing::ThirtySeven, Cancels::None, 30000},
	{per_second(10), 20, 5, Spacing::ThirtySeven, Cancels::Newest, 30000},
	{per_second(10), 5, 5, Spacing::Irregular, Cancels::Newest, 60000},
	{per_second(10), 5, 5, Spacing::Irregular, Cancels::Any, 60000},
	{per_second(1000), 100, 30, Spacing::Irregular, Cancels::None, 30000},
	{per_second(1000), 100, 30, Spacing::Irregular, Cancels::Newest, 30000},
	{per_second(1000), 100, 30, Spacing::Irregular, Cancels::Any, 30000},
	{per_second(1000000), 3000, 1500, Spacing::OneMilli, Cancels::None, 30000},
	{per_second(1000000), 3000, 1500, Spacing::OneMilli, Cancels::Newest, 30000},
	{per_second(1000000), 3000, 1500, Spacing::OneMilli, Cancels::Any, 30000},
	{per_second(1000000), 50, 5, Spacing::Tight, Cancels::Newest, 1000000},
	{per_second(1000000), 50, 5, Spacing::Tight, Cancels::Any, 1000000},
};

INSTANTIATE_TEST_SUITE_P(Mixes, MixedEnvelope, ::testing::ValuesIn(kMixes),
						 [](const ::testing::TestParamInfo<Mix> &info)
						 {
							 return "rate" + std::to_string(info.param.rate) + "_" +
									spacing_name(info.param.spacing) + "_" +
									kCancelsNames[static_cast<int>(info.param.cancels)];
						 });

} /* namespace */
