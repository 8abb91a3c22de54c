#!/usr/bin/env bash
# The main job: build llmbench, then run its default benchmark of the built-in engine
# (`llmbench` with no arguments). Extra arguments go to llmbench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build"
cd "$root"
exec "$root/build/src/app/llmbench" "$@"
