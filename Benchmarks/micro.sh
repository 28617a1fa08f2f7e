#!/bin/sh
# Runs the micro-benchmarks (Benchmarks/Package.swift, ordo-one/benchmark) in release mode.
# Extra arguments go to `swift package benchmark`, e.g. `--filter Dot` or `--format markdown`.
#
#   Benchmarks/micro.sh [ARGS...]
#
# The first build compiles the benchmark package and its dependencies (minutes on 2 cores).
set -eu
cd "$(dirname "$0")"
exec swift package --disable-sandbox benchmark --no-progress "$@"
