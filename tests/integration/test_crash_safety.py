# SPDX-License-Identifier: GPL-3.0-or-later
"""The short version of tests/stress/crash-safety.py (issue 10): relaisd killed
with SIGKILL at random moments under load from parallel clients, started
again each time; every message answered 250 reaches the sink, and every
duplicate has a kill next to it. The long run is the script itself:
tests/stress/crash-safety.py --rounds 20 --messages 5000."""

import os
import re
import subprocess
import sys

from relais_helpers import relaisd_path, source_root


def run_stress(*args, timeout=240):
    script = os.path.join(source_root(), "tests", "stress", "crash-safety.py")
    p = subprocess.run([sys.executable, script, "--relaisd", relaisd_path(), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    print(p.stdout)
    return p


def test_nothing_answered_250_is_lost_across_kills():
    p = run_stress("--rounds", "4", "--messages", "400", "--clients", "6", "--seed", "10")
    assert p.returncode == 0, p.stdout
    summary = re.search(r"acknowledged (\d+), delivered (\d+) \((\d+) distinct\), lost (\d+), "
                        r"duplicates (\d+) \([\d.]+ %; (\d+) not near a kill\)", p.stdout)
    assert summary, p.stdout
    acked, delivered, distinct, lost, duplicates, unexplained = map(int, summary.groups())
    assert acked >= 400 and lost == 0 and unexplained == 0, p.stdout
    assert delivered == distinct + duplicates and distinct >= acked, p.stdout
    assert len(re.findall(r"^round +\d+: killed at", p.stdout, re.M)) == 4, p.stdout
    assert p.stdout.rstrip().endswith("crash-safety: ok"), p.stdout
