#!/bin/sh
# Lays out the service's run-time tree in OUT_DIR, after
# `corepack pnpm install --frozen-lockfile && corepack pnpm --filter app build`:
#
#   OUT_DIR/dist/bin/main.js     the bundled service (and cli.js, writeWorker.js)
#   OUT_DIR/dist/models/         the prompt classifier's model, read beside dist/bin
#   OUT_DIR/agents/              the behaviour files (found from the working directory)
#   OUT_DIR/node_modules/        better-sqlite3 and what it requires at run time
#   OUT_DIR/package.json         "type": "module", so node loads the ESM bundle as such
#
# The Dockerfile and the systemd install both use it, so the two run the same tree.
set -eu

out=${1:?usage: deploy/assemble.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)

test -f "$root/apps/app/dist/bin/main.js" || { echo "build first: corepack pnpm --filter app build" >&2; exit 1; }

mkdir -p "$out/node_modules"
cp -R "$root/apps/app/dist" "$out/dist"
cp -R "$root/agents" "$out/agents"
printf '{ "private": true, "type": "module" }\n' > "$out/package.json"

# scripts/bundle.ts keeps better-sqlite3 external (a native addon), so everything
# else is inside the bundle and only it and the packages it requires at run time
# (bindings, which requires file-uri-to-path) are needed: not the whole production
# tree that `pnpm deploy --prod` would copy. Each is resolved from the real folder
# of the one requiring it, as pnpm lays them out, and copied without symlinks.
resolve_from() {
  node -e 'const { dirname } = require("node:path"); const { realpathSync } = require("node:fs");
    process.stdout.write(realpathSync(dirname(require.resolve(process.argv[1] + "/package.json", { paths: [process.argv[2]] }))))' "$1" "$2"
}
sqlite=$(resolve_from better-sqlite3 "$root")
bindings=$(resolve_from bindings "$sqlite")
uri=$(resolve_from file-uri-to-path "$bindings")
for dir in "$sqlite" "$bindings" "$uri"; do
  cp -RL "$dir" "$out/node_modules/$(basename "$dir")"
done

# Fails here, not at the first request, if the addon or a package it requires is missing.
(cd "$out" && node -e 'new (require("better-sqlite3"))(":memory:").close()')
echo "assembled $out"
