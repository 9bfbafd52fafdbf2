#!/usr/bin/env bash
# promtool.sh: prints the path of Prometheus's `promtool` (for `promtool
# check metrics` in t_metrics.sh), fetching it once if needed.
#
# promtool comes from Debian's `prometheus` package. Installing that
# package would pull 11 JavaScript packages for its web UI and set up a
# Prometheus server as a service, only for a linter that the tests need, so
# the package is downloaded with `apt-get download` and only usr/bin/promtool
# is unpacked (dpkg -x) into the cache, as tests/data/fetch.sh does with
# weka. A promtool on PATH is used as is.
#
# Env: KL_PROMTOOL (a promtool to use), KL_CACHE (default <repo>/.cache).
set -euo pipefail

if [ -n "${KL_PROMTOOL:-}" ]; then echo "$KL_PROMTOOL"; exit 0; fi
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${KL_CACHE:-$REPO/.cache}/promtool"
BIN="$CACHE/promtool"
if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then echo "$BIN"; exit 0; fi
mkdir -p "$CACHE"
tmp="$(mktemp -d "$CACHE/fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && apt-get download prometheus >/dev/null 2>"$tmp/apt.log" ) \
    || { echo "promtool.sh: apt-get download prometheus failed:" >&2; cat "$tmp/apt.log" >&2; exit 1; }
dpkg -x "$tmp"/prometheus_*.deb "$tmp/root"
cp "$tmp/root/usr/bin/promtool" "$BIN.new"
chmod 0755 "$BIN.new"
mv "$BIN.new" "$BIN"
"$BIN" --version >/dev/null 2>&1 || { echo "promtool.sh: $BIN does not run" >&2; exit 1; }
echo "$BIN"
