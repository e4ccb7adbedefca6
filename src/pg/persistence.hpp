/*
 * persistence.hpp
 *		Saving bucket configuration and counters, and loading them at start.
 */
#ifndef HACIENDA_PG_PERSISTENCE_HPP
#define HACIENDA_PG_PERSISTENCE_HPP

#include "postgres_headers.hpp"

#include "shared_state.hpp"

namespace hacienda
{

/*
 * Fill the table from the state file.  Runs in the postmaster when it
 * creates shared memory, before any backend can look at the table.
 */
void load_state();

/* on_shmem_exit callback of the postmaster: save the state on a clean exit. */
void save_state_at_shutdown(int code, Datum arg);

/*
 * Give key limits of its own (configured) or return it to the defaults, in
 * shared memory and durably in the state file.  A bucket nobody has used
 * starts full under its new limits.  Raises an ERROR, changing nothing, if the
 * table is full or the state cannot be saved.
 */
void store_configuration(const BucketKey *key, bool configured, const Limits &limits);

} /* namespace hacienda */

#endif /* HACIENDA_PG_PERSISTENCE_HPP */
