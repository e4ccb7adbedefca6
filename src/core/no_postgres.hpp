/*
 * no_postgres.hpp
 *		Compile-time guard that keeps the core free of PostgreSQL headers.
 *
 * Every core source file includes this last.  If any header it pulled in
 * brought PostgreSQL's headers along, the build stops here, so the core can
 * always be compiled and unit-tested without a server.
 */
#ifndef HACIENDA_CORE_NO_POSTGRES_HPP
#define HACIENDA_CORE_NO_POSTGRES_HPP

#if defined(POSTGRES_H) || defined(POSTGRES_FE_H) || defined(C_H) || defined(PG_CONFIG_H)
#error "the hacienda_ratelimit core must not include PostgreSQL headers"
#endif

#endif /* HACIENDA_CORE_NO_POSTGRES_HPP */
