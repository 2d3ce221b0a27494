"""Fuzz properties: print how many inputs each target ran (and so, how many passed)."""
from __future__ import annotations

import json
import os
from typing import Any

from tests.fuzz.budget import COUNTS


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not COUNTS:
        return
    failed = {
        r.nodeid.split("::")[-1] for r in terminalreporter.stats.get("failed", []) if r.nodeid.startswith("tests/fuzz/")
    }
    terminalreporter.section("fuzz inputs per target")
    for name, n in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{name:<32} {n:>10,}")
    terminalreporter.write_line(f"{'total':<32} {sum(COUNTS.values()):>10,}")
    terminalreporter.write_line(f"crashes / failed properties: {len(failed)}")
    report = os.environ.get("FUZZ_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as f:
            json.dump({"inputs": dict(COUNTS), "failed": sorted(failed)}, f)
