/*
 * token_bucket.hpp
 *		Exact token bucket arithmetic, free of any PostgreSQL dependency.
 *
 * A bucket holds a level of "nanotokens" (one token is 10^9 of them) and
 * refills at a rate given in nanotokens per second.  Time is an argument:
 * monotonic nanoseconds supplied by the caller, so tests can drive the clock.
 *
 * Refill is exact.  Over dt nanoseconds a bucket earns dt * rate / 10^9
 * nanotokens; the remainder of that division is kept in "carry" and added to
 * the next refill, so no fraction of a token is ever lost or invented, however
 * the calls are spaced.  The only rounding in the whole scheme happens once,
 * when a rate in tokens per second is converted to nanotokens per second.
 *
 * Waiters reserve their slot: the level goes below zero ("debt") and each
 * waiter gets a ticket, the running total of nanotokens reserved up to and
 * including its own.  A ticket is due once the refill has paid the debt down
 * to what the waiters behind it reserved.  Later callers see the debt and
 * queue behind it, which makes the order first come, first served.  A waiter
 * that gives up before its ticket is due returns its tokens, and every ticket
 * behind it moves up by as many: the queue closes the gap, and the bucket is
 * then exactly as if the reservation had never been made.
 *
 * Every function here is noexcept, allocates nothing and keeps all state in
 * the plain struct below, which lives in shared memory.
 */
#ifndef HACIENDA_CORE_TOKEN_BUCKET_HPP
#define HACIENDA_CORE_TOKEN_BUCKET_HPP

#include <cstdint>
#include <type_traits>

namespace hacienda
{

/* Nanotokens in one token, and nanoseconds in one second. */
constexpr int64_t kUnitsPerToken = 1000000000;
constexpr int64_t kNanosPerSecond = 1000000000;

/* The largest time span the arithmetic produces, in nanoseconds. */
constexpr int64_t kForeverNs = INT64_MAX;

/* Validated limits of one bucket. */
struct Limits
{
	int64_t capacity; /* whole tokens, 1 .. kMaxCapacity */
	int64_t rate;     /* nanotokens per second, 1 .. kMaxRate * 10^9 */
};

inline bool
operator==(const Limits &a, const Limits &b)
{
	return a.capacity == b.capacity && a.rate == b.rate;
}

inline bool
operator!=(const Limits &a, const Limits &b)
{
	return !(a == b);
}

/*
 * The state of one bucket.  All fields are plain integers so the struct can
 * sit in shared memory and be copied with memcpy.
 */
struct TokenBucket
{
	Limits limits;         /* the limits the level was last refilled under */
	int64_t level;         /* nanotokens; below zero while waiters hold debt */
	int64_t carry;         /* sub-nanotoken remainder, 0 .. kNanosPerSecond - 1 */
	int64_t updated_ns;    /* clock of the last refill; never moves backwards */
	int64_t last_grant_ns; /* clock of the last grant, or INT64_MIN if none */
	uint64_t granted;      /* lifetime count of granted requests */
	uint64_t rejected;     /* lifetime count of refused requests */
	uint64_t reserved;     /* ticket counter: nanotokens reserved, modulo 2^64 */
	int32_t waiting;       /* callers holding a reservation right now */
};

static_assert(std::is_trivially_copyable<TokenBucket>::value, "TokenBucket lives in shared memory");
static_assert(std::is_standard_layout<TokenBucket>::value, "TokenBucket lives in shared memory");

/* What happened to a request for tokens. */
enum class Outcome : uint8_t
{
	Granted,  /* tokens taken now */
	MustWait, /* tokens reserved; the caller sleeps wait_ns, then owns them */
	Refused   /* nothing taken; wait_ns says how long the request would need */
};

struct Decision
{
	Outcome outcome;
	int64_t wait_ns;  /* how long the request waits, or would have to */
	int64_t ready_ns; /* the bucket clock at which the tokens are the caller's */
	uint64_t ticket;  /* with MustWait: the reservation's place in the queue */
};

/* A read-only view of a bucket at some instant. */
struct Snapshot
{
	int64_t level;          /* nanotokens, may be negative */
	int64_t retry_after_ns; /* until one token is available to a new caller */
	int64_t reset_after_ns; /* until the bucket is full again */
};

/* Start a full bucket with zeroed counters. */
void bucket_init(TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept;

/* Take tokens if they are there now; a refusal changes nothing but a counter. */
bool bucket_try_take(TokenBucket &bucket, const Limits &limits, int64_t now_ns,
					 int64_t tokens) noexcept;

/*
 * Take tokens now, or reserve them if they will be there within max_wait_ns.
 * A request that cannot be met in time is refused and takes nothing.
 */
Decision bucket_reserve(TokenBucket &bucket, const Limits &limits, int64_t now_ns, int64_t tokens,
						int64_t max_wait_ns) noexcept;

/*
 * Nanoseconds until the reservation holding ticket is due, or 0 if it is due
 * now.  Sleeping that long is enough unless a waiter ahead gives up meanwhile,
 * which only brings the ticket closer.
 */
int64_t bucket_ticket_wait(TokenBucket &bucket, const Limits &limits, int64_t now_ns,
						   uint64_t ticket) noexcept;

/* A reservation is due: the caller now owns its tokens. */
void bucket_finish_wait(TokenBucket &bucket, int64_t now_ns) noexcept;

/*
 * The reservation of tokens holding ticket was abandoned.  Before it is due,
 * its tokens go back to the bucket and the function returns true: the caller
 * must then pass every other ticket of this bucket through ticket_after_cancel.
 * Once due it returns false and gives nothing back: its slot has passed.
 */
bool bucket_cancel_wait(TokenBucket &bucket, const Limits &limits, int64_t now_ns, int64_t tokens,
						uint64_t ticket) noexcept;

/*
 * A ticket after the reservation of tokens holding cancelled gave them back:
 * a ticket behind it moves up by as many nanotokens, one ahead stays.
 */
uint64_t ticket_after_cancel(uint64_t ticket, uint64_t cancelled, int64_t tokens) noexcept;

/*
 * Switch the bucket to limits at now_ns: time up to now_ns refills under the
 * limits it had.  Every other function switches the same way on its own, at
 * the time of the call; this one is for a change that must count from when it
 * was made, not from the next call.
 */
void bucket_switch_limits(TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept;

/* Fill the bucket to capacity, forgiving any debt; counters stay. */
void bucket_refill(TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept;

/* Look at a bucket as it would be at now_ns, changing nothing. */
Snapshot bucket_peek(const TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept;

/* Nanoseconds until a new caller could take tokens, changing nothing. */
int64_t bucket_wait_for(const TokenBucket &bucket, const Limits &limits, int64_t now_ns,
						int64_t tokens) noexcept;

/*
 * Whether the bucket is full with nobody waiting at now_ns.  Such a bucket is
 * indistinguishable from a fresh one, apart from its counters.
 */
bool bucket_is_idle(const TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept;

/* now_ns + wait_ns, saturating instead of overflowing. */
int64_t deadline_after(int64_t now_ns, int64_t wait_ns) noexcept;

} /* namespace hacienda */

#endif /* HACIENDA_CORE_TOKEN_BUCKET_HPP */
