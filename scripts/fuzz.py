"""``make fuzz``: every attacker-input parser under a large budget.

1. Atheris (coverage-guided, libFuzzer) on the pure parsers, one process per
   target (``tests/fuzz/atheris_run.py``), ``--runs`` inputs each.
2. The Hypothesis properties of ``tests/fuzz`` (the same ones ``make test`` runs
   with a short budget), ``FUZZ_EXAMPLES`` inputs per pure target; the targets
   that go through the database and Redis (OAuth callback, refresh service,
   negotiate) get a twentieth of that.
Prints the inputs per target and the crashes; exits non-zero on any crash.
Crash inputs are saved under ``.run/fuzz/``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["session_token", "access_token", "refresh_token", "next", "frame_buffer", "hub_messages", "handshake_inputs"]


def run_atheris(target: str, runs: int, artifacts: Path) -> tuple[int, bool, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.atheris_run", target, f"-runs={runs}", f"-artifact_prefix={artifacts}/{target}-",
         "-max_len=2048", "-print_final_stats=1"],
        cwd=ROOT, capture_output=True, text=True,
    )
    done = re.findall(r"Done (\d+) runs", proc.stderr)
    executed = re.findall(r"stat::number_of_executed_units:\s+(\d+)", proc.stderr)
    count = int(done[-1]) if done else int(executed[-1]) if executed else 0
    crashed = proc.returncode != 0
    if crashed:
        print(proc.stderr[-4000:], file=sys.stderr)
    return count, crashed, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=145_000, help="Atheris inputs per target")
    parser.add_argument("--examples", type=int, default=1_500, help="Hypothesis inputs per pure target")
    args = parser.parse_args()
    artifacts = ROOT / ".run" / "fuzz"
    artifacts.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, int, int, float]] = []
    for target in TARGETS:
        count, crashed, took = run_atheris(target, args.runs, artifacts)
        rows.append((f"atheris:{target}", count, int(crashed), took))
        print(f"atheris:{target:<28} {count:>10,} inputs  {int(crashed)} crashes  {took:6.1f}s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "hypothesis.json"
        env = {**os.environ, "FUZZ_EXAMPLES": str(args.examples), "FUZZ_REPORT": str(report)}
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/fuzz"], cwd=ROOT, env=env)
        took = time.monotonic() - start
        data: dict[str, Any] = (
            json.loads(report.read_text()) if report.exists() else {"inputs": {}, "failed": ["(pytest did not report)"]}
        )
    failed = set(data["failed"])
    inputs: dict[str, int] = data["inputs"]
    for name, count in sorted(inputs.items()):
        rows.append((f"hypothesis:{name}", count, 0, 0.0))
    total = sum(r[1] for r in rows)
    crashes = sum(r[2] for r in rows) + len(failed) + (1 if proc.returncode != 0 and not failed else 0)
    print("\n== fuzz summary ==")
    for name, count, _crashed, _took in rows:
        print(f"{name:<40} {count:>10,}")
    print(f"{'total inputs':<40} {total:>10,}")
    print(f"crashes: {crashes}" + (f" (failed properties: {', '.join(sorted(failed))})" if failed else ""))
    print(f"hypothesis pass: {took:.0f}s")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
