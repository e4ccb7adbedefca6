# Shared shell functions for the demo and test scripts.  Source, don't run.
#
# Everything here works on a fresh Debian or Ubuntu machine, as root or as a
# user with sudo.  PostgreSQL refuses to run as root, so as root the servers
# run as the unprivileged "postgres" user that the Debian packages create.

set -euo pipefail

HR_PG_MAJOR=15
# Another PostgreSQL 15 build, and another port, may be named in the environment.
HR_PG_BIN=${HR_PG_BIN:-/usr/lib/postgresql/$HR_PG_MAJOR/bin}
HR_PORT=${HR_PORT:-5499}
HR_PACKAGES=(postgresql-$HR_PG_MAJOR postgresql-server-dev-$HR_PG_MAJOR libkrb5-dev
	g++ make cmake libgtest-dev python3-psycopg2 libipc-run-perl pgbouncer)
# What only the full test run needs: the monitoring and packaging tools.
HR_TEST_PACKAGES=(python3-yaml prometheus prometheus-postgres-exporter debhelper
	postgresql-server-dev-all)

hr_log() {
	printf '\n=== %s\n' "$*" >&2
}

# Run a command with root privileges.
hr_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# The user the servers run as, and a way to run commands as that user.
hr_server_user() {
	if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

hr_as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Install the Debian packages that are missing, with one apt-get update.
hr_install_packages() {
	local missing=() pkg
	for pkg in "${HR_PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	hr_log "installing ${missing[*]}"
	hr_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# Package scripts must not start services (prometheus and its exporter).
	local policy=/usr/sbin/policy-rc.d added=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | hr_as_root tee "$policy" >/dev/null
		hr_as_root chmod 755 "$policy"
		added=1
	fi

	hr_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	[ -z "$added" ] || hr_as_root rm -f "$policy"
}

# Build the extension in the source tree and install it into PostgreSQL.
hr_build_and_install() {
	local src=$1
	hr_log "building and installing the extension"
	make -C "$src" -s -j2 PG_CONFIG="$HR_PG_BIN/pg_config" >/dev/null
	hr_as_root make -C "$src" -s install PG_CONFIG="$HR_PG_BIN/pg_config" >/dev/null
}

# A scratch directory owned by the server user, removed by hr_cleanup.
hr_make_workdir() {
	HR_WORKDIR=$(mktemp -d /tmp/hacienda_ratelimit.XXXXXX)
	chmod 755 "$HR_WORKDIR"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$HR_WORKDIR"
	return 0
}

# Start a throwaway server that preloads the extension.  Listens only on a
# Unix socket in its data directory.  Extra arguments are postgresql.conf lines.
# Sets PGHOST, PGPORT, PGUSER and PGDATABASE for the clients that follow.
hr_start_server() {
	local datadir=$HR_WORKDIR/data line
	hr_log "starting a throwaway PostgreSQL $HR_PG_MAJOR in $datadir"
	hr_as_server_user "$HR_PG_BIN/initdb" -D "$datadir" -U postgres --auth=trust \
		--no-sync >/dev/null
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$datadir'"
		echo "port = $HR_PORT"
		echo "shared_preload_libraries = 'hacienda_ratelimit'"
		echo "max_connections = 300"
		echo "fsync = off"
		for line in "$@"; do echo "$line"; done
	} | hr_as_server_user tee -a "$datadir/postgresql.conf" >/dev/null
	hr_as_server_user "$HR_PG_BIN/pg_ctl" -D "$datadir" -l "$HR_WORKDIR/server.log" \
		-w -s start
	export PGHOST=$datadir PGPORT=$HR_PORT PGUSER=postgres PGDATABASE=postgres
}

hr_stop_server() {
	[ -n "${HR_WORKDIR:-}" ] && [ -f "$HR_WORKDIR/data/postmaster.pid" ] || return 0
	hr_as_server_user "$HR_PG_BIN/pg_ctl" -D "$HR_WORKDIR/data" -m fast -w -s stop || true
}

hr_cleanup() {
	hr_stop_server
	[ -n "${HR_WORKDIR:-}" ] && rm -rf "$HR_WORKDIR"
	return 0
}
