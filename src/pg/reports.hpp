/*
 * reports.hpp
 *		Errors that more than one SQL function raises.
 */
#ifndef HACIENDA_PG_REPORTS_HPP
#define HACIENDA_PG_REPORTS_HPP

#include "shared_state.hpp"

namespace hacienda
{

/* Raise an ERROR on a hot standby: its buckets would be a second limit. */
void require_primary(const char *action);

/* The bucket table is full and no bucket could be evicted. */
void report_table_full();

/* A request for more tokens than the bucket can ever hold. */
void report_oversized(const BucketKey *key, int32 tokens, int64 capacity);

/* A wait for tokens that cannot finish within timeout_ns; wait_ns is what it needs. */
void report_timeout(const BucketKey *key, int32 tokens, int64 timeout_ns, int64 wait_ns);

} /* namespace hacienda */

#endif /* HACIENDA_PG_REPORTS_HPP */
