# Builds, installs and tests the hacienda_ratelimit extension with PGXS.

MODULE_big = hacienda_ratelimit
OBJS = \
	src/core/limits.o \
	src/core/token_bucket.o \
	src/pg/acquire.o \
	src/pg/arguments.o \
	src/pg/boundary.o \
	src/pg/bucket_list.o \
	src/pg/bucket_view.o \
	src/pg/configure.o \
	src/pg/key_encoding.o \
	src/pg/module.o \
	src/pg/persistence.o \
	src/pg/reports.o \
	src/pg/settings.o \
	src/pg/shared_state.o \
	src/pg/state_file.o \
	src/pg/status.o \
	src/pg/throttle.o \
	src/pg/waiting.o

# The second extension is opt-in: it stands in for the table of the limiter this
# one replaces (see "Migrating from the table-based limiter" in README.md).
EXTENSION = hacienda_ratelimit hacienda_ratelimit_compat
DATA = hacienda_ratelimit--1.0.sql hacienda_ratelimit--1.0--1.1.sql \
	hacienda_ratelimit_compat--1.0.sql
PGFILEDESC = "hacienda_ratelimit - shared token-bucket rate limiter"

# pg_regress runs against a server that preloads the library; see scripts/test.
REGRESS = api errors privileges rollback configure upgrade hostile_input security key_encoding \
	migration
REGRESS_OPTS = --encoding=UTF8 --no-locale

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config
# The server headers trip C++17 warnings: take them in as system headers.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server) \
	-I$(srcdir)/src/core -I$(srcdir)/src/pg

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CXXFLAGS += -std=c++17 -Wextra -Wno-unused-parameter
override BITCODE_CXXFLAGS += -std=c++17
SHLIB_LINK += -lstdc++

# Packs the committed sources (HEAD) as <name>-<version>.zip for PGXN, with the
# version that META.json gives the distribution.
DIST_NAME = hacienda_ratelimit-$(shell python3 -c \
	'import json, sys; print(json.load(sys.stdin)["version"])' < $(srcdir)/META.json)

.PHONY: dist
dist:
	git -C $(srcdir) archive --format=zip --prefix=$(DIST_NAME)/ \
		-o $(abspath $(DIST_NAME).zip) HEAD
