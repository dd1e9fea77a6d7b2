#!/usr/bin/env bash
# A local Citus cluster for the tests (a coordinator and two workers on three consecutive loopback
# ports) from this machine's PostgreSQL 15 and the `citus` extension installed in it. The project
# does not install Citus: build it from its upstream release by hand where you want these tests
# (test/setup/citus-cluster.ts skips them, saying why, where it is absent).
#
#   bash scripts/citus/cluster.sh available             # exit 0 when PostgreSQL 15 has the citus extension
#   bash scripts/citus/cluster.sh start DIR BASEPORT    # nodes in DIR/n<port>, logs in DIR/n<port>.log
#   bash scripts/citus/cluster.sh addnode DIR PORT      # one more node in DIR (a worker to add to a database)
#   bash scripts/citus/cluster.sh createdb NAME BASEPORT # a database on every node, Citus in it, workers registered
#   bash scripts/citus/cluster.sh stop DIR
#
# Trust authentication on 127.0.0.1 only, as the postgres user: a test cluster, never a production one.
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
SHARE=$("$BIN/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_on() { # PORT DATABASE SQL
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}

# start_node DIR PORT: a PostgreSQL 15 node with Citus loaded, in DIR/n<PORT>, logging to DIR/n<PORT>.log.
start_node() {
  local node="$1/n$2"
  mkdir -p "$1"
  [ "$(id -u)" = 0 ] && chown postgres "$1"
  as_postgres "$BIN/initdb" -D "$node" -U postgres --auth=trust --no-sync >/dev/null
  cat >>"$node/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = ''
shared_preload_libraries = 'citus'
max_connections = 200
max_prepared_transactions = 200
fsync = off
full_page_writes = off
wal_level = logical
citus.log_remote_commands = off
CONF
  as_postgres "$BIN/pg_ctl" -D "$node" -l "$1/n$2.log" -w -t 60 start >/dev/null
  psql_on "$2" postgres 'CREATE EXTENSION citus'
}

case "${1:-}" in
  available)
    [ -x "$BIN/initdb" ] && [ -f "$SHARE/extension/citus.control" ]
    ;;
  start)
    dir=${2:?DIR}
    base=${3:?BASEPORT}
    for port in "$base" $((base + 1)) $((base + 2)); do start_node "$dir" "$port"; done
    psql_on "$base" postgres "SELECT citus_set_coordinator_host('127.0.0.1', $base)" >/dev/null
    ;;
  addnode)
    # One more node for a cluster already started in DIR: a worker to add (citus_add_node) per database.
    start_node "${2:?DIR}" "${3:?PORT}"
    ;;
  createdb)
    name=${2:?NAME}
    base=${3:?BASEPORT}
    for port in $((base + 1)) $((base + 2)) "$base"; do
      psql_on "$port" postgres "CREATE DATABASE \"$name\""
      psql_on "$port" "$name" 'CREATE EXTENSION citus'
    done
    psql_on "$base" "$name" "SELECT citus_set_coordinator_host('127.0.0.1', $base); SELECT citus_add_node('127.0.0.1', $((base + 1))); SELECT citus_add_node('127.0.0.1', $((base + 2)))" >/dev/null
    ;;
  stop)
    dir=${2:?DIR}
    for node in "$dir"/n*/; do
      [ -f "$node/postmaster.pid" ] && as_postgres "$BIN/pg_ctl" -D "$node" -m immediate -w stop >/dev/null || true
    done
    ;;
  *)
    echo "usage: $0 available | start DIR BASEPORT | addnode DIR PORT | createdb NAME BASEPORT | stop DIR" >&2
    exit 2
    ;;
esac
