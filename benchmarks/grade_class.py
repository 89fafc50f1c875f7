"""How long does grading a class take? 200 submissions against examples/grading/key.yaml.

    python benchmarks/grade_class.py

Prints the wall time of one `cnncalc check --key ... -f csv` run (a subprocess, start-up included).
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests"))

from grading_class import KEY, write_class  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as folder:
        expected = write_class(folder)
        command = [sys.executable, "-m", "cnncalc", "check", "--key", KEY, *sorted(expected), "-f", "csv"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=os.path.join(HERE, os.pardir))
        elapsed = time.perf_counter() - start
    rows = done.stdout.strip().splitlines()[1:]
    print(f"graded {len(rows)} submissions in {elapsed:.2f} s (exit {done.returncode})")


if __name__ == "__main__":
    main()
