#!/usr/bin/env bash
# Load on loopback, bounded, stopping by itself: 1,000 SSE clients on one
# simulator each receive every one of 100 events, in order; prints the
# delivery latency (p50/p99/max). Fails if any client misses or reorders an
# event; then 200 clients through the harness's fault proxy with random
# cuts, each receiving every acked event of the highway clip exactly once
# from its first event on (clients cut before any are counted apart),
# and what the proxy adds to a round trip. Figures: docs/benchmarks.md.
# Usage: bash ci/load.sh [CLIENTS] [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 2 sockets per client
CLIENTS="${1:-1000}" EVENTS="${2:-100}" cargo bench --locked -q -p cam-hil --bench sse_fanout
CLIENTS="${1:-1000}" EVENTS="${2:-100}" cargo bench --locked -q -p cam-hil --bench storms
CLIENTS="${1:-200}" cargo bench --locked -q -p cam-hil --bench fault_load
