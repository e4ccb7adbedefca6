/*
 * fuzz_model.hpp
 *		The harness's own account of one bucket under fuzzing: the waiters it
 *		holds, the grants it has seen, and the properties checked after every
 *		operation.
 *
 * Waiters are kept in arrival order with the tickets the model expects them
 * to hold.  Those found due and not yet gone ("lingering") always form a
 * prefix of the queue, since tickets fall due in arrival order.  The clock
 * moves forward only through step(), which stops at the exact instant each
 * waiter becomes due; that instant stamps its grant, whether the waiter then
 * claims its tokens, gives them up or lingers: they are its own from then on.
 *
 * The envelope (capacity + rate * T over every window) is checked per
 * segment: a limit change or a reset starts a new one, checked from a full
 * bucket.  A segment counts only grants asked for within it.  A waiter that
 * reserved under the old limits may hold more tokens than the new capacity,
 * and is paid out of refill after the change, so its grant is left out: its
 * debt should only ever hold back the grants that are counted.
 *
 * The bound is loosened by one nanosecond of refill (rate * 10^-18 tokens),
 * the resolution of the clock.  A waiter falls due at the first whole
 * nanosecond its tokens are paid for; the fraction earned beyond them in that
 * nanosecond stays in the level, where a plain bucket at capacity would have
 * dropped it, so the next due time can come that much earlier.
 */
#ifndef HACIENDA_FUZZ_MODEL_HPP
#define HACIENDA_FUZZ_MODEL_HPP

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <vector>

#include "fuzz_input.hpp"
#include "test_support.hpp"
#include "token_bucket.hpp"

namespace hacienda_fuzz
{

using hacienda::Limits;
using hacienda::TokenBucket;
using hacienda_test::Grant;

/* Waiters checked behind the first one not yet due, besides the last. */
constexpr size_t kLookAhead = 4;

/* What a waiter does the instant it is found due. */
enum class Fate : uint8_t
{
	Claim,  /* takes its tokens */
	GiveUp, /* abandons them: its slot has passed, nothing comes back */
	Linger  /* stays until a Finish or Cancel operation */
};

/* A live reservation. */
struct Waiter
{
	uint64_t ticket; /* as the core gave it, moved by ticket_after_cancel */
	uint64_t model;  /* as the model counts it */
	int64_t tokens;
	int segment; /* the segment it was made in */
	Fate fate;
	bool due; /* found due and lingering */
};

/* A full bucket, in nanotokens. */
inline int64_t
capacity_units(const Limits &limits)
{
	return limits.capacity * hacienda::kUnitsPerToken;
}

/* Field by field, so padding never matters. */
inline bool
same_state(const TokenBucket &a, const TokenBucket &b)
{
	return a.limits == b.limits && a.level == b.level && a.carry == b.carry &&
		   a.updated_ns == b.updated_ns && a.last_grant_ns == b.last_grant_ns &&
		   a.granted == b.granted && a.rejected == b.rejected && a.reserved == b.reserved &&
		   a.waiting == b.waiting;
}

/* The bucket, the harness clock and everything the model expects of them. */
struct Model
{
	TokenBucket bucket;
	int64_t now;               /* the harness clock; only moves forward */
	int64_t clock;             /* the latest reading passed to a mutating call */
	int64_t last_grant;        /* bucket.last_grant_ns as last seen */
	std::deque<Waiter> live;   /* in arrival order, the lingering ones first */
	size_t lingering = 0;      /* how many of them are due */
	uint64_t reserved;         /* the ticket counter as the model counts it */
	uint64_t granted = 0;      /* grants the bucket must have counted */
	uint64_t rejected = 0;     /* refusals likewise */
	Limits segment_limits;     /* the limits of the current segment */
	int segment = 0;           /* its number */
	std::vector<Grant> grants; /* grants asked for within it */

	/* A full bucket at start, its ticket counter at first_ticket. */
	Model(const Limits &limits, int64_t start, uint64_t first_ticket)
		: now(start), clock(start), reserved(first_ticket), segment_limits(limits)
	{
		hacienda::bucket_init(bucket, limits, start);
		bucket.reserved = first_ticket;
		last_grant = bucket.last_grant_ns;
	}

	/* Whether some waiter is not yet due. */
	bool
	blocked() const
	{
		return lingering < live.size();
	}

	/* A mutating call took this reading: the stored clock is the latest one. */
	void
	note_reading(int64_t reading)
	{
		clock = std::max(clock, reading);
	}

	/* The bucket as a call with these limits and reading would first bring it. */
	TokenBucket
	advanced_copy(const Limits &limits, int64_t reading) const
	{
		TokenBucket copy = bucket;

		hacienda::bucket_switch_limits(copy, limits, reading);
		return copy;
	}

	/* The grants of the current segment keep its envelope. */
	void
	check_segment() const
	{
		hacienda_test::EnvelopeCheck check =
			hacienda_test::check_envelope(grants, segment_limits, segment_limits.rate);
		int shown = 0;

		if (check.ok)
			return;

		/* Say which window, and the first few grants in it. */
		std::fprintf(stderr, "core_fuzz: window [%lld, %lld] ns over capacity %lld, rate %lld\n",
					 static_cast<long long>(check.from_ns), static_cast<long long>(check.to_ns),
					 static_cast<long long>(segment_limits.capacity),
					 static_cast<long long>(segment_limits.rate));
		for (const Grant &grant : grants)
			if (grant.at >= check.from_ns && grant.at <= check.to_ns && shown++ < 10)
				std::fprintf(stderr, "  %lld tokens at %lld\n",
							 static_cast<long long>(grant.tokens),
							 static_cast<long long>(grant.at));
		FUZZ_REQUIRE(check.ok);
	}

	/* Close the current segment and start one under limits. */
	void
	new_segment(const Limits &limits)
	{
		check_segment();
		segment_limits = limits;
		segment++;
		grants.clear();
	}

	/* A call is about to pass limits: different ones start a new segment. */
	void
	enter(const Limits &limits)
	{
		if (limits != segment_limits)
			new_segment(limits);
	}

	/* What holds after every operation. */
	void
	check_state()
	{
		FUZZ_REQUIRE(bucket.limits == segment_limits);
		FUZZ_REQUIRE(bucket.level <= capacity_units(bucket.limits));
		FUZZ_REQUIRE(bucket.level >= INT64_MIN / 2);
		FUZZ_REQUIRE((bucket.level < 0) == blocked());
		FUZZ_REQUIRE(bucket.carry >= 0 && bucket.carry < hacienda::kNanosPerSecond);
		FUZZ_REQUIRE(bucket.level < capacity_units(bucket.limits) || bucket.carry == 0);
		FUZZ_REQUIRE(bucket.updated_ns == clock);
		FUZZ_REQUIRE(bucket.waiting == static_cast<int32_t>(live.size()));
		FUZZ_REQUIRE(bucket.reserved == reserved);
		FUZZ_REQUIRE(bucket.granted == granted && bucket.rejected == rejected);
		FUZZ_REQUIRE(bucket.last_grant_ns >= last_grant);
		last_grant = bucket.last_grant_ns;
	}

	/*
	 * A look at the bucket changes nothing: the snapshot, bucket_wait_for and
	 * bucket_is_idle agree with one another and with the model, and the wait
	 * for one token is exact to the nanosecond.
	 */
	void
	check_peek(const Limits &limits, int64_t reading, int64_t tokens) const
	{
		TokenBucket before = bucket;
		hacienda::Snapshot snap = hacienda::bucket_peek(bucket, limits, reading);
		TokenBucket view = advanced_copy(limits, reading);
		int64_t full = capacity_units(limits);
		int64_t retry = snap.retry_after_ns;

		FUZZ_REQUIRE(snap.level == view.level && snap.level <= full);
		FUZZ_REQUIRE(retry >= 0 && snap.reset_after_ns >= retry);
		FUZZ_REQUIRE((retry == 0) == (snap.level >= hacienda::kUnitsPerToken));
		FUZZ_REQUIRE((snap.reset_after_ns == 0) == (snap.level == full));
		FUZZ_REQUIRE(!blocked() || retry > 0);
		FUZZ_REQUIRE(hacienda::bucket_wait_for(bucket, limits, reading, 1) == retry);
		FUZZ_REQUIRE(hacienda::bucket_is_idle(bucket, limits, reading) ==
					 (live.empty() && snap.level == full));
		if (tokens_accepted(tokens, limits.capacity))
		{
			int64_t wait = hacienda::bucket_wait_for(bucket, limits, reading, tokens);

			FUZZ_REQUIRE((wait == 0) == (snap.level >= tokens * hacienda::kUnitsPerToken));
			FUZZ_REQUIRE(wait >= retry);
		}
		FUZZ_REQUIRE(same_state(bucket, before));

		/* One token is there after retry, and not a nanosecond before. */
		if (retry > 0 && retry != hacienda::kForeverNs &&
			static_cast<hacienda_test::i128>(view.updated_ns) + retry <= INT64_MAX)
		{
			hacienda::bucket_switch_limits(view, limits, view.updated_ns + retry - 1);
			FUZZ_REQUIRE(view.level < hacienda::kUnitsPerToken);
			hacienda::bucket_switch_limits(view, limits, view.updated_ns + 1);
			FUZZ_REQUIRE(view.level >= hacienda::kUnitsPerToken);
		}
	}

	/* A waiter already due gives up: nothing comes back, nothing else changes. */
	void
	late_cancel(const Waiter &waiter, const Limits &limits, int64_t reading)
	{
		TokenBucket expected = advanced_copy(limits, reading);

		expected.waiting--;
		FUZZ_REQUIRE(
			!hacienda::bucket_cancel_wait(bucket, limits, reading, waiter.tokens, waiter.ticket));
		note_reading(reading);
		FUZZ_REQUIRE(same_state(bucket, expected));
	}

	/* A waiter is due now: its tokens are its own from this instant, whatever it does. */
	void
	become_due(const Waiter &waiter)
	{
		if (waiter.segment == segment)
			grants.push_back({bucket.updated_ns, waiter.tokens});
		if (waiter.fate == Fate::Claim)
		{
			hacienda::bucket_finish_wait(bucket, now);
			granted++;
		}
		else if (waiter.fate == Fate::GiveUp)
			late_cancel(waiter, bucket.limits, now);
	}

	/* Waiter j is not due, and not before one ahead of it that waits previous. */
	int64_t
	no_sooner(size_t j, int64_t previous) const
	{
		int64_t wait = hacienda_test::wait_on_copy(bucket, bucket.limits, now, live[j].ticket);

		FUZZ_REQUIRE(wait > 0 && wait >= previous);
		return wait;
	}

	/*
	 * The waiters not yet due look at their tickets at the harness clock, in
	 * arrival order, and those now due take their fate.  Behind the first one
	 * not due, a few more and the last are checked to be due no sooner.
	 */
	void
	settle()
	{
		size_t kept = lingering;
		size_t k = lingering;
		int64_t previous = 0;

		/* The latest waiter found due and still here stays due. */
		if (lingering > 0)
		{
			FUZZ_REQUIRE(hacienda::bucket_ticket_wait(bucket, bucket.limits, now,
													  live[lingering - 1].ticket) == 0);
			note_reading(now);
		}

		/* Take the newly due from the front, keeping those that linger. */
		for (; k < live.size(); k++)
		{
			Waiter waiter = live[k];

			previous = hacienda::bucket_ticket_wait(bucket, bucket.limits, now, waiter.ticket);
			note_reading(now);
			if (previous > 0)
				break;
			become_due(waiter);
			if (waiter.fate == Fate::Linger)
			{
				waiter.due = true;
				live[kept++] = waiter;
			}
		}
		live.erase(live.begin() + static_cast<std::ptrdiff_t>(kept),
				   live.begin() + static_cast<std::ptrdiff_t>(k));
		lingering = kept;

		/* Arrival order: nobody behind is due sooner. */
		size_t end = std::min(live.size(), lingering + 1 + kLookAhead);

		for (size_t j = lingering + 1; j < end; j++)
			previous = no_sooner(j, previous);
		if (end < live.size())
			no_sooner(live.size() - 1, previous);
	}

	/*
	 * Move the harness clock forward by, stopping at each instant the first
	 * waiter not yet due becomes due.  Its wait must be exact: one nanosecond
	 * short it is not due, and then it is.
	 */
	void
	step(int64_t by)
	{
		int64_t target = hacienda::deadline_after(now, by);

		while (blocked())
		{
			const Waiter &head = live[lingering];
			uint64_t head_model = head.model;
			int64_t wait = hacienda_test::wait_on_copy(bucket, bucket.limits, now, head.ticket);

			if (wait > static_cast<hacienda_test::i128>(target) - now)
				break;
			FUZZ_REQUIRE(wait > 0);

			/* A saturated wait is only a lower bound: stop short of it and ask again. */
			if (wait == hacienda::kForeverNs)
			{
				now += hacienda::kForeverNs - 1;
				settle();
				continue;
			}

			FUZZ_REQUIRE(hacienda_test::wait_on_copy(bucket, bucket.limits, now + wait - 1,
													 head.ticket) == 1);
			now += wait;
			settle();
			FUZZ_REQUIRE(!blocked() || live[lingering].model != head_model);
		}
		now = target;
		settle();
	}
};

} /* namespace hacienda_fuzz */

#endif /* HACIENDA_FUZZ_MODEL_HPP */
