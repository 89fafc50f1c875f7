"""A class graded against examples/grading/variants/key.yaml, each student on their own numbers.

The key varies the HW3 net (conv1 5x5 pad 2 with `width` filters, 2x2 pool, conv2 3x3 pad 1 with
2*width filters, 2x2 pool, fc 10) over input 3xHxH (H = 32, 48, 64) and width (16, 24, 32). The true
values are hand arithmetic of the lecture formulas, never this program's output:

    q1 conv1 output_shape (1)   (H - 5 + 2*2)/1 + 1 = H                      -> width x H x H
    q2 conv1 params (2)         width*3*5*5 + width
    q3 conv2 macs (3)           (2*width * H/2 * H/2) * (width*3*3)
    q4 fc params (2)            (2*width * H/4 * H/4) * 10 + 10
    q5 pool2 memory_kb (2)      2*width * H/4 * H/4 * 4 B / 1024

A student's variant is the documented function of (seed, name, student id): for each name in the
key's order, choice number int(sha256("SEED\\x1fNAME\\x1fID")[:8]) mod the number of choices, the id
stripped and case-folded. It is written out here again so that a change to it fails the tests.
"""

import hashlib
import os

KEY = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples", "grading", "variants",
                   "key.yaml")
SEED = 2024
SIDES = (32, 48, 64)
WIDTHS = (16, 24, 32)
POINTS = {"q1": 1, "q2": 2, "q3": 3, "q4": 2, "q5": 2}
MAX_POINTS = 10


def pick(name, student, count):
    digest = hashlib.sha256(f"{SEED}\x1f{name}\x1f{student.strip().casefold()}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def variant(student):
    """(side H, width) of a student."""
    return SIDES[pick("input", student, 3)], WIDTHS[pick("width", student, 3)]


def answers(side, width):
    """The right answers, by hand, as a student writes them."""
    kb = 2 * width * (side // 4) ** 2 * 4 / 1024
    return {"q1": f"{width}x{side}x{side}", "q2": str(width * 3 * 25 + width),
            "q3": str(2 * width * (side // 2) ** 2 * width * 9), "q4": str(2 * width * (side // 4) ** 2 * 10 + 10),
            "q5": f"{kb:g}"}


def submission(index):
    """(student id, text, expected points): every third student copies the answers of another variant."""
    student = f"s{index:04d}"
    side, width = variant(student)
    right = answers(side, width)
    if index % 3 == 1:
        other = answers(*next((s, w) for s in SIDES for w in WIDTHS if (s, w) != (side, width)))
        text = "".join(f"{qid}: {other[qid]}\n" for qid in POINTS)
        points = sum(POINTS[qid] for qid in POINTS if other[qid] == right[qid])
        return student, text, points
    if index % 3 == 2:
        text = "".join(f"{qid}: {right[qid]}\n" for qid in ("q1", "q2", "q3"))
        return student, text, 1 + 2 + 3
    return student, "".join(f"{qid}: {right[qid]}\n" for qid in POINTS), MAX_POINTS


def write_class(folder, size=2000):
    """``size`` submissions in ``folder``; {path: (student, expected points)}."""
    expected = {}
    for index in range(size):
        student, text, points = submission(index)
        path = os.path.join(str(folder), f"{student}.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        expected[path] = (student, points)
    return expected
