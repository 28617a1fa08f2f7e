#!/usr/bin/env bash
# PostOffice side by side with Dovecot (server) and mpop, fetchmail, getmail6 and a poplib script
# (client), from a fresh machine, in one command:
#
#   Benchmarks/compare.sh [--quick] [--plot [DIR]] [--runs N] [--out DIR] [--only servers|clients]
#                         [--bin-dir DIR] [--no-install] [--clients postoffice,mpop,...]
#
# Installs what it needs (idempotently: Dovecot and the fetchers from Debian through
# scripts/install-deps.sh, matplotlib from PyPI for --plot), builds PostOffice and postoffice-bench
# in release mode (unless --bin-dir names binaries already built), then runs Benchmarks/compare.py,
# which prints one table of ratios per workload. --quick takes half a minute instead of an hour
# (CI's smoke); --no-install skips the installation (scripts/test has just done it).
# Needs root and 2 cores: servers run pinned to core 0, the load on core 1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

bin_dir=""
plot=false
install=true
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2 ;;
        --bin-dir=*) bin_dir=${1#--bin-dir=}; shift ;;
        --plot) plot=true; args+=("$1"); shift ;;
        --no-install) install=false; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

log() { printf 'compare.sh: %s\n' "$*" >&2; }

if [ "$(nproc)" -lt 2 ]; then
    log "needs at least 2 cores (server on core 0, load on core 1)"
    exit 1
fi

if [ "$install" = true ]; then
    scripts/install-deps.sh
fi

if [ "$plot" = true ] && ! python3 -c 'import matplotlib' >/dev/null 2>&1; then
    log "installing matplotlib"
    python3 -m pip install -q matplotlib 2>/dev/null || python3 -m pip install -q --break-system-packages matplotlib
fi

if [ -z "$bin_dir" ]; then
    log "building postoffice and postoffice-bench (release)"
    swift build -c release --product postoffice
    swift build -c release --product postoffice-bench
    bin_dir=$(swift build -c release --show-bin-path)
fi

exec python3 Benchmarks/compare.py --bin-dir "$bin_dir" ${args[@]+"${args[@]}"}
