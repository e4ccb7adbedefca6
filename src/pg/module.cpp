/*
 * module.cpp
 *		Library entry point of hacienda_ratelimit.
 *
 * The buckets live in shared memory, which only a library named in
 * shared_preload_libraries can reserve.  Loaded any other way (for instance
 * by CREATE EXTENSION on a server that does not preload it), _PG_init does
 * nothing and every SQL function raises an ERROR that says how to fix it.
 */
#include "postgres_headers.hpp"

#include "settings.hpp"
#include "shared_state.hpp"

extern "C"
{
	PG_MODULE_MAGIC;

	void _PG_init(void);

	void
	_PG_init(void)
	{
		if (!process_shared_preload_libraries_in_progress)
			return;

		hacienda::define_settings();
		hacienda::install_shared_state_hooks();
	}
}
