#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL 15 cluster on a unix socket.
#
#   tests/pgcluster.sh start DIR   initdb + pg_ctl start in DIR; prints the
#                                  environment to use it (PGHOST=... lines)
#   tests/pgcluster.sh stop DIR    stop it (the caller removes DIR)
#
# initdb refuses to run as root, so as root the server runs as an
# unprivileged user (postgres, which Debian's package creates; or a system
# user made here). The binaries are found as Debian installs them.
set -euo pipefail

find_bin() {
	local d
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
	echo "pgcluster: no initdb found: apt-get install postgresql-15" >&2
	exit 1
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PGOWNER" -- "$@"
	else
		"$@"
	fi
}

cmd=${1:?usage: pgcluster.sh start|stop DIR}
dir=${2:?usage: pgcluster.sh start|stop DIR}
bin=$(find_bin)
PGOWNER=$(id -un)
if [ "$(id -u)" = 0 ]; then
	PGOWNER=postgres
	id -u "$PGOWNER" >/dev/null 2>&1 || useradd --system --no-create-home "$PGOWNER"
fi
port=${TJ_PGPORT:-54329}

case "$cmd" in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown "$PGOWNER" "$dir"
	chmod 0755 "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
			--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	# TJ_DURABLE=1 keeps fsync on (a private cluster that should survive a crash);
	# throwaway test clusters trade durability for speed.
	fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[ "${TJ_DURABLE:-0}" = 1 ] && fast=""
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $port \
			    $fast -c max_connections=200 -c shared_buffers=${TJ_PG_SHARED_BUFFERS:-128MB}" start >/dev/null ||
			{ cat "$dir/server.log" >&2; exit 1; }
	fi
	echo "PGHOST=$dir"
	echo "PGPORT=$port"
	echo "PGUSER=postgres"
	echo "PGDATABASE=postgres"
	;;
stop)
	[ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
*)
	echo "usage: pgcluster.sh start|stop DIR" >&2
	exit 2
	;;
esac
