/*
 * postgres_headers.hpp
 *		The one place the glue pulls in PostgreSQL's server headers.
 *
 * The headers are C; they are wrapped in extern "C" so their functions keep
 * C linkage.  The Makefile puts the server include directory on the system
 * search path, which keeps C++17 warnings about their contents quiet.
 */
#ifndef HACIENDA_PG_POSTGRES_HEADERS_HPP
#define HACIENDA_PG_POSTGRES_HEADERS_HPP

extern "C"
{
#include "postgres.h"

#include "access/xlog.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "mb/pg_wchar.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"
}

#endif /* HACIENDA_PG_POSTGRES_HEADERS_HPP */
