"""A short run of each load and abuse scenario (`scripts/load --smoke`, `scripts/abuse --smoke`):
the same code as the long runs, with small counts, so CI sees a regression in minutes.

Each scenario asserts what must hold (every session answered, every slow peer closed by the idle
timeout, no wrong login accepted, descriptors back where they were, memory bounded under a peer
that does not read); the figures are printed (`pytest -s`) for comparison with
docs/RELIABILITY.md.
"""

from __future__ import annotations

import json

import pytest

from harness import load

#: Another client's worst cycle (connect, log in, STAT, RETR, QUIT) tolerated during an attack in
#: the smoke run: generous, as CI machines are shared; the long runs report the real figures.
VICTIM_P99_BOUND_MS = 5000


@pytest.mark.parametrize("scenario", load.LOAD_SCENARIOS + load.ABUSE_SCENARIOS)
def test_smoke(scenario, postoffice_bin):
    figures = load.run_scenario(scenario, postoffice_bin, smoke=True)
    print(json.dumps({"scenario": scenario, **figures}))
    for key in ("victim_under_attack", "session_after"):
        if key in figures:
            assert figures[key]["p99_ms"] < VICTIM_P99_BOUND_MS, figures
