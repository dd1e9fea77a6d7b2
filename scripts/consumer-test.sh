#!/usr/bin/env bash
# npm run test:consumer — proves the package works outside this repository: packs it, creates a fresh
# Nest application that depends on the tarball and the peer packages, runs the migrations with the
# application's own typeorm CLI, boots it, and checks that two tenants see only their own flows; then
# boots it again on the embedded database (PGlite, its optional peers installed) and checks the same.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=fdl_consumer_$$
app_pid=
sql() { node -e "const {Client}=require('pg');const c=new Client(process.argv[1]);c.connect().then(()=>c.query(process.argv[2])).then(()=>c.end(),e=>{console.error(e.message);process.exit(1)})" "$server" "$1"; }
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  (cd "$root" && sql "DROP DATABASE IF EXISTS $database WITH (FORCE)") || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== pack"
cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
# The peer versions this repository is tested with (read here, before any other package.json exists).
versions=$(node -p "const d=require('./package.json').devDependencies; ['@nestjs/common','@nestjs/core','@nestjs/platform-express','@nestjs/typeorm','typeorm','pg','rxjs','reflect-metadata','typescript','@types/node','@electric-sql/pglite','@electric-sql/pglite-socket'].map(n => n + '=' + d[n]).join('\\n')")
peer() { grep "^$1=" <<<"$versions" | cut -d= -f2-; }

echo "== a fresh application depending on $tarball"
mkdir -p "$work/app/src"
cp "$root/scripts/consumer/"*.ts "$work/app/src/"
cd "$work/app"
cat > package.json <<JSON
{
  "name": "consumer-app",
  "private": true,
  "dependencies": {
    "fdl-runtime-db": "file:../$tarball",
    "@nestjs/common": "$(peer @nestjs/common)",
    "@nestjs/core": "$(peer @nestjs/core)",
    "@nestjs/platform-express": "$(peer @nestjs/platform-express)",
    "@nestjs/typeorm": "$(peer @nestjs/typeorm)",
    "typeorm": "$(peer typeorm)",
    "pg": "$(peer pg)",
    "rxjs": "$(peer rxjs)",
    "reflect-metadata": "$(peer reflect-metadata)",
    "@electric-sql/pglite": "$(peer @electric-sql/pglite)",
    "@electric-sql/pglite-socket": "$(peer @electric-sql/pglite-socket)"
  },
  "devDependencies": { "typescript": "$(peer typescript)", "@types/node": "$(peer @types/node)" }
}
JSON
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "commonjs", "moduleResolution": "node", "target": "es2022", "rootDir": "src", "outDir": "dist",
  "experimentalDecorators": true, "emitDecoratorMetadata": true, "esModuleInterop": true, "strict": true,
  "skipLibCheck": true, "types": ["node"] }, "include": ["src"] }
JSON
npm install --no-audit --no-fund --loglevel=error >/dev/null
npx tsc -p tsconfig.json

echo "== migrations through the application's own typeorm CLI"
(cd "$root" && sql "CREATE DATABASE $database")
url=$(node -e "const u=new URL(process.argv[1]);u.pathname='/$database';console.log(u.toString())" "$server")
DATABASE_URL=$url npx typeorm migration:run -d dist/data-source.js >/dev/null

fail() { echo "consumer test FAILED: $*"; echo "--- app log"; cat "$work/app.log"; exit 1; }
call() { curl -s -X "$1" "127.0.0.1:$port$2" -H 'content-type: application/json' ${3:+-H "x-tenant-id: $3"} ${4:+-d "$4"}; }
id_of() { node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id'; }

# serves_two_tenants BACKEND ENV...: boots the application with ENV, checks isolation, stops it.
serves_two_tenants() {
  local backend=$1; shift
  echo "== boot and serve ($backend)"
  port=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
  env "$@" PORT="$port" node dist/main.js > "$work/app.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 1 120); do curl -s "127.0.0.1:$port/flows" >/dev/null 2>&1 && break; sleep 0.5; done
  grep -q "Using $backend" "$work/app.log" || fail "the log does not say 'Using $backend'"

  local a b seen_by_a seen_by_b status_without
  a=$(call POST /tenants "" '{"name":"a"}' | id_of)
  b=$(call POST /tenants "" '{"name":"b"}' | id_of)
  call POST /flows "$a" '{"name":"flow-of-a"}' >/dev/null
  call POST /flows "$b" '{"name":"flow-of-b"}' >/dev/null
  seen_by_a=$(call GET /flows "$a")
  seen_by_b=$(call GET /flows "$b")
  status_without=$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/flows")

  grep -q '"flow-of-a"' <<<"$seen_by_a" || fail "tenant a does not see its flow: $seen_by_a"
  grep -q '"flow-of-b"' <<<"$seen_by_a" && fail "tenant a sees tenant b's flow: $seen_by_a"
  grep -q '"flow-of-b"' <<<"$seen_by_b" || fail "tenant b does not see its flow: $seen_by_b"
  grep -q '"flow-of-a"' <<<"$seen_by_b" && fail "tenant b sees tenant a's flow: $seen_by_b"
  [ "$status_without" = 400 ] || fail "a request without tenant got $status_without, not 400"

  # Nest's shutdown hooks close the application, then re-raise the signal: 143 is a clean stop.
  kill -TERM "$app_pid"
  local code=0
  wait "$app_pid" || code=$?
  app_pid=
  [ "$code" = 143 ] || fail "the application did not stop cleanly on SIGTERM (exit $code)"
  grep -qi "error" "$work/app.log" && fail "the log reports an error"
  return 0
}

serves_two_tenants "PostgreSQL at" FDL_USE_DATABASE=true DATABASE_URL="$url"
serves_two_tenants "embedded PostgreSQL" FDL_USE_DATABASE= FDL_CACHE_DIR="$work/cache"
echo "consumer test passed: the packed library installs, migrates through the host's CLI, isolates tenants on a server and embedded"

bash "$root/scripts/consumer-esm-test.sh" "$work/$tarball"
