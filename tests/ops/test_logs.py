"""What operators read in the logs: each line once."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_django_warning_is_printed_once():
    proc = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "import logging; logging.getLogger('django.request').warning('probe-7f3a')"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout + proc.stderr).count("probe-7f3a") == 1
