/*
 * test_support.hpp
 *		Helpers shared by the core unit tests.
 *
 * Expected values in the tests are computed here from first principles, in
 * 128-bit integers, never by calling back into the code under test.
 */
#ifndef HACIENDA_TEST_SUPPORT_HPP
#define HACIENDA_TEST_SUPPORT_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "token_bucket.hpp"

namespace hacienda_test
{

using hacienda::Limits;
using hacienda::TokenBucket;

__extension__ typedef __int128 i128;

/* Units spelled out independently of the constants in the core. */
constexpr int64_t kSecond = 1000000000; /* nanoseconds */
constexpr int64_t kMilli = 1000000;     /* nanoseconds */
constexpr int64_t kToken = 1000000000;  /* nanotokens */
constexpr i128 kE18 = static_cast<i128>(kSecond) * kToken;

/* An arbitrary, non-zero start so that nothing depends on time zero. */
constexpr int64_t kStart = 5000 * kSecond;

/* Rate in nanotokens per second for a whole number of tokens per second. */
inline int64_t
per_second(int64_t tokens)
{
	return tokens * kToken;
}

/* floor(a / b) and ceil(a / b) for a >= 0, b > 0. */
inline i128
floor_div(i128 a, i128 b)
{
	return a / b;
}

inline i128
ceil_div(i128 a, i128 b)
{
	return (a + b - 1) / b;
}

/* Whole tokens a bucket earns in elapsed_ns, rounded down. */
inline int64_t
tokens_earned(int64_t rate, int64_t elapsed_ns)
{
	return static_cast<int64_t>(floor_div(static_cast<i128>(rate) * elapsed_ns, kE18));
}

/* The first instant, after an empty start with no remainder, holding this many tokens. */
inline int64_t
time_to_earn(int64_t rate, int64_t tokens)
{
	return static_cast<int64_t>(ceil_div(static_cast<i128>(tokens) * kE18, rate));
}

/*
 * Nanoseconds until ticket is due at now_ns, asked of a copy so the bucket
 * itself is left alone: a measurement, never an expected value.
 */
inline int64_t
wait_on_copy(const TokenBucket &bucket, const Limits &limits, int64_t now_ns, uint64_t ticket)
{
	TokenBucket view = bucket;

	return hacienda::bucket_ticket_wait(view, limits, now_ns, ticket);
}

/* Take one token at a time until refused; returns the number granted. */
inline int64_t
drain(TokenBucket &bucket, const Limits &limits, int64_t now_ns, int64_t at_most = INT64_MAX)
{
	int64_t granted = 0;

	while (granted < at_most && hacienda::bucket_try_take(bucket, limits, now_ns, 1))
		granted++;
	return granted;
}

/*
 * Take everything there is in whole tokens, in at most 63 requests of
 * descending powers of two; returns the number of tokens granted.
 */
inline int64_t
take_all(TokenBucket &bucket, const Limits &limits, int64_t now_ns)
{
	int64_t top = 1;
	int64_t granted = 0;

	while (top <= limits.capacity / 2)
		top *= 2;
	for (int64_t tokens = top; tokens >= 1; tokens /= 2)
		if (hacienda::bucket_try_take(bucket, limits, now_ns, tokens))
			granted += tokens;
	return granted;
}

/* A deterministic generator (splitmix64), identical on every platform. */
class Rng
{
public:
	explicit Rng(uint64_t seed) : state_(seed)
	{
	}

	uint64_t
	next()
	{
		uint64_t z = (state_ += UINT64_C(0x9E3779B97F4A7C15));

		z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
		return z ^ (z >> 31);
	}

	/* Uniform in [lo, hi]; the tiny modulo bias does not matter here. */
	int64_t
	between(int64_t lo, int64_t hi)
	{
		uint64_t span = static_cast<uint64_t>(hi - lo) + 1;

		return lo + static_cast<int64_t>(next() % span);
	}

private:
	uint64_t state_;
};

/* How far apart successive calls are in a simulated run. */
enum class Spacing
{
	Tight,       /* 1 ns apart */
	OneMilli,    /* 1 ms apart */
	ThirtySeven, /* 37 ms apart */
	Irregular    /* 0 .. 50 ms, pseudo-random, often zero or tiny */
};

constexpr int64_t kMaxGap = 50 * kMilli;

inline const char *
spacing_name(Spacing spacing)
{
	switch (spacing)
	{
		case Spacing::Tight:
			return "tight";
		case Spacing::OneMilli:
			return "1ms";
		case Spacing::ThirtySeven:
			return "37ms";
		case Spacing::Irregular:
			return "irregular";
	}
	return "?";
}

inline int64_t
next_gap(Spacing spacing, Rng &rng)
{
	switch (spacing)
	{
		case Spacing::Tight:
			return 1;
		case Spacing::OneMilli:
			return kMilli;
		case Spacing::ThirtySeven:
			return 37 * kMilli;
		case Spacing::Irregular:
			switch (rng.next() % 4)
			{
				case 0:
					return 0;
				case 1:
					return rng.between(1, 1000);
				case 2:
					return rng.between(1, kMilli);
				default:
					return rng.between(1, kMaxGap);
			}
	}
	return 1;
}

/* One grant: when the caller owns its tokens, and how many. */
struct Grant
{
	int64_t at;
	int64_t tokens;
};

/* The first window found over the envelope, if any. */
struct EnvelopeCheck
{
	bool ok;
	int64_t from_ns;
	int64_t to_ns;
	i128 excess; /* in 10^-18 tokens */
};

/*
 * For every pair of grants i <= j (in time order):
 *   tokens(i..j) * 10^18 <= capacity * 10^18 + rate * (t_j - t_i)
 * Both sides are in 10^-18 tokens, so the comparison is exact.
 *
 * Rewritten as X_j + max_{i <= j} Y_i <= capacity * 10^18 with
 * X_j = P_j * 10^18 - rate * t_j and Y_i = rate * t_i - P_{i-1} * 10^18,
 * it is checked for all pairs in one pass.  Windows cut through a group of
 * grants sharing an instant are checked too; their bound is the same and
 * their sum smaller, so they never add a false alarm.  slack, in 10^-18
 * tokens, loosens the bound (see the fuzz harness).
 */
inline EnvelopeCheck
check_envelope(std::vector<Grant> grants, const Limits &limits, i128 slack = 0)
{
	std::stable_sort(grants.begin(), grants.end(),
					 [](const Grant &a, const Grant &b) { return a.at < b.at; });

	i128 bound = static_cast<i128>(limits.capacity) * kE18 + slack;
	i128 before = 0; /* P_{j-1} * 10^18 */
	i128 best_y = 0;
	size_t best_i = 0;

	for (size_t j = 0; j < grants.size(); j++)
	{
		i128 y = static_cast<i128>(limits.rate) * grants[j].at - before;

		if (j == 0 || y > best_y)
		{
			best_y = y;
			best_i = j;
		}
		before += static_cast<i128>(grants[j].tokens) * kE18;

		i128 x = before - static_cast<i128>(limits.rate) * grants[j].at;

		if (x + best_y > bound)
			return {false, grants[best_i].at, grants[j].at, x + best_y - bound};
	}
	return {true, 0, 0, 0};
}

/* The same property, pair by pair; slow, used to check the fast version. */
inline bool
envelope_holds_brute_force(const std::vector<Grant> &grants, const Limits &limits)
{
	for (const Grant &a : grants)
		for (const Grant &b : grants)
		{
			if (b.at < a.at)
				continue;

			i128 sum = 0;

			for (const Grant &g : grants)
				if (g.at >= a.at && g.at <= b.at)
					sum += g.tokens;
			if (sum * kE18 > static_cast<i128>(limits.capacity) * kE18 +
								 static_cast<i128>(limits.rate) * (b.at - a.at))
				return false;
		}
	return true;
}

} /* namespace hacienda_test */

#endif /* HACIENDA_TEST_SUPPORT_HPP */
