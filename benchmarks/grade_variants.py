"""How long does grading a class with a variant per student take? 2,000 submissions against
examples/grading/variants/key.yaml (9 variants), each graded against its own student's numbers.

    python benchmarks/grade_variants.py

Prints the wall time of one `cnncalc check --key ... -f csv` run (a subprocess, start-up included);
the goal is under 2 s.
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests"))

from variants_class import KEY, write_class  # noqa: E402


def main(size=2000):
    with tempfile.TemporaryDirectory() as folder:
        expected = write_class(folder, size)
        command = [sys.executable, "-m", "cnncalc", "check", "--key", KEY, *sorted(expected), "-f", "csv"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=os.path.join(HERE, os.pardir))
        elapsed = time.perf_counter() - start
    rows = done.stdout.strip().splitlines()[1:]
    print(f"graded {len(rows)} submissions, each against its own variant, in {elapsed:.2f} s "
          f"(exit {done.returncode})")


if __name__ == "__main__":
    main()
