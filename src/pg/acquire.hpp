/*
 * acquire.hpp
 *		Running one request for tokens against its bucket.
 */
#ifndef HACIENDA_PG_ACQUIRE_HPP
#define HACIENDA_PG_ACQUIRE_HPP

#include "shared_state.hpp"

namespace hacienda
{

enum class RequestKind
{
	Take,    /* take now or refuse */
	Reserve, /* take now, or reserve a slot within max_wait_ns */
	Throttle /* take now or refuse, and look at the bucket afterwards */
};

struct Request
{
	Limits limits;     /* the bucket's limits */
	bool oversized;    /* more tokens than the capacity: nothing was tried */
	Decision decision; /* for Throttle, wait_ns is the wait for the same request */
	Snapshot after;    /* for Throttle: the bucket after the request */
};

/*
 * Run a request on key's bucket (created if new), under the bucket's own
 * limits or the defaults.  Raises an ERROR if the table is full or the
 * request is larger than the bucket, after releasing every lock.
 */
Request run_request(const BucketKey *key, int32 tokens, RequestKind kind, int64 max_wait_ns);

} /* namespace hacienda */

#endif /* HACIENDA_PG_ACQUIRE_HPP */
