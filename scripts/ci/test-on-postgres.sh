#!/usr/bin/env bash
# Runs the version-sensitive part of the suite on a throwaway PostgreSQL of the given major:
#
#   bash scripts/ci/test-on-postgres.sh 14            # the files below
#   bash scripts/ci/test-on-postgres.sh 18 test/schema/smoke.spec.ts
#
# What depends on the server's version: the schema and its migrations (up, down, plain SQL), Row
# Level Security isolation and its negative controls, the catalog checks, tenant transactions, what
# a tenant transaction may leave in the session (the guard reads version-dependent catalog views), the
# audit chain's trigger and constraint, moving rows out of the default history partition under
# forced RLS (ATTACH's foreign-key check differs between majors) and the example API. The rest of the suite (PgBouncer, restarts of throwaway clusters, the embedded
# database) uses the machine's own binaries and runs once, in `npm test`.
set -uo pipefail
cd "$(dirname "$0")/../.."

VERSION_SENSITIVE_TESTS=(
  test/schema/
  test/hostile/catalog.spec.ts
  test/hostile/negative-controls.spec.ts
  test/hostile/session-state.spec.ts
  test/module/tenant-transactions.spec.ts
  test/module/history-partitions-least-privilege.spec.ts
  test/lifecycle/audit-trail.spec.ts
  test/example/example-api.spec.ts
)

major=${1:?usage: $0 <major> [jest paths...]}
shift
[ "$#" -gt 0 ] || set -- "${VERSION_SENSITIVE_TESTS[@]}"
exec bash scripts/ci/with-postgres.sh "$major" -- npm test -- "$@"
