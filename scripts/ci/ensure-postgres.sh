# Sourced by .ci/run: makes a PostgreSQL 14+ answer for the tests and exports TEST_DATABASE_URL;
# installs PgBouncer for the transaction-pooling tests.
# Order: TEST_DATABASE_URL if already set; the local server on 127.0.0.1:5432 (started if installed
# but down); Debian's postgresql installed if missing.

probe() { # probe URL -> exit 0 when a connection and a query succeed
  node -e "
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(() => process.exit(0), () => process.exit(1));
  " "$1"
}

wait_for() { # wait_for URL -> up to 30 s
  for _ in $(seq 1 30); do probe "$1" && return 0; sleep 1; done
  return 1
}

start_local_clusters() {
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      for cluster in $(ls "/etc/postgresql/$version"); do
        pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start 2>/dev/null || true
      done
    done
  fi
}

# PgBouncer, for the transaction-pooling tests (test/hostile/pgbouncer.spec.ts).
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "installing pgbouncer from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq pgbouncer; } >/dev/null || echo "could not install pgbouncer: its tests will fail" >&2
fi

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  wait_for "$TEST_DATABASE_URL" || { echo "TEST_DATABASE_URL does not answer" >&2; return 1; }
  echo "using TEST_DATABASE_URL"
  return 0
fi

local_url=postgres://postgres@127.0.0.1:5432/postgres
if probe "$local_url"; then
  echo "local PostgreSQL on 127.0.0.1:5432 is up"
  export TEST_DATABASE_URL=$local_url
  return 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null || { echo "could not install postgresql" >&2; return 1; }
fi
start_local_clusters

if wait_for "$local_url"; then
  export TEST_DATABASE_URL=$local_url
else
  # A stock Debian cluster asks for a password on TCP: give the throwaway CI superuser one.
  runuser -u postgres -- psql -qc "ALTER ROLE postgres PASSWORD 'postgres'" >/dev/null || return 1
  export TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres
  wait_for "$TEST_DATABASE_URL" || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; return 1; }
fi
echo "local PostgreSQL on 127.0.0.1:5432 is up"
