#!/usr/bin/env bash
# Build copies of the harness with the prototype patches of bench/notes applied, to measure them
# side by side with the harness as it is (bench_throughput.py --variant NAME=PATH, bench_memory.py
# --variant PATH). Nothing in the repository changes: the copies go to $OUT (default /tmp/glm-variants).
#   bash bench/notes/make_variants.sh && .venv/bin/python bench/bench_throughput.py \
#     --clients harness,aiohttp_client,aiohttp --variant aiohttp_client=/tmp/glm-variants/aiohttp_client
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NOTES="$ROOT/bench/notes"
OUT="${OUT:-/tmp/glm-variants}"
rm -rf "$OUT" && mkdir -p "$OUT"
variant() {  # variant NAME PATCH...
    local name="$1"; shift
    mkdir -p "$OUT/$name"
    cp -r "$ROOT/harness" "$ROOT/configs" "$ROOT/tasks" "$OUT/$name/"
    find "$OUT/$name" -name __pycache__ -prune -exec rm -rf {} +
    for p in "$@"; do (cd "$OUT/$name" && patch -s -p1 < "$NOTES/$p"); done
    echo "$OUT/$name"
}
variant aiohttp_client 01-aiohttp-client.patch
variant pipelined 01-aiohttp-client.patch 02-pipelined-grading.patch
variant lean_report 03-lean-read-samples.patch
variant all 01-aiohttp-client.patch 02-pipelined-grading.patch 03-lean-read-samples.patch
variant httpx_sharded 04-httpx-sharded-pool.patch
# sniffio: not a patch; httpcore imports it on every lock it makes, and a failed import costs ~0.1 ms
"$ROOT/.venv/bin/pip" install --quiet --target "$OUT/sniffio_site" sniffio
echo "$OUT/sniffio_site  (PYTHONPATH for the harness as it is, with sniffio importable)"
