"""A class of submissions for examples/grading/key.yaml, with each one's score known in advance.

The right and wrong answers are the lecture's numbers and hand arithmetic (AlexNet, torchvision
layout, 3x227x227, as in the EECS 498-007 lecture 8 table), never this program's output:

    q1 conv1 output_shape (2 points)  (227 - 11 + 2*2)/4 + 1 = 56          -> 64x56x56
    q2 conv1 params       (2)         64*3*11*11 + 64                      -> 23,296
    q3 fc6 params         (3)         9216*4096 + 4096                     -> 37,752,832
    q4 conv2 macs         (5, +-1%)   (192*27*27) * (64*5*5)               -> 223,948,800
    q5 pool1 memory_kb    (2)         64*27*27*4 B / 1024                  -> 182.25 KB
    q6 pool1 receptive_field (1)      11 + (3-1)*1*4                       -> 19

Used by tests/test_grading.py and benchmarks/grade_class.py.
"""

import os
import random

from helpers import write_file

KEY = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples", "grading", "key.yaml")

QUESTIONS = {  # id: (layer, quantity, points)
    "q1": ("conv1", "output_shape", 2), "q2": ("conv1", "params", 2), "q3": ("fc6", "params", 3),
    "q4": ("conv2", "macs", 5), "q5": ("pool1", "memory_kb", 2), "q6": ("pool1", "receptive_field", 1),
}
MAX_POINTS = 15
RIGHT = {
    "q1": ["64x56x56", "56x56x64", "[64, 56, 56]"],
    "q2": ["23296", "'23,296'", "23.296K"],                # the key is strict: exact forms only
    "q3": ["'37,752,832'", "37.752832M", "37752.832k"],
    "q4": ["223948800", "224M", "222M", "225.9M"],    # within 1%: 221,709,312 .. 226,188,288
    "q5": ["182.25", "182.25 KB", "186624 B"],
    "q6": ["19", "19x19"],
}
WRONG = {
    "q1": ["55x55x64", "64x55x55"],                  # CS231n's unpadded conv1
    "q2": ["23232", "24K", "23.3K"],                 # 23,232: the weights without the 64 biases; rounded
    "q3": ["'37,749k'", "37748736", "37.75M"],       # the slide's weights-only count; rounded
    "q4": ["220M", "447897600"],                     # 1.8% below; 2 x MACs
    "q5": ["186.6", "784"],                          # 1000-byte KB; conv1's memory
    "q6": ["17", "11"],
}


def submission(index):
    """(file name, text, expected points, expected error?) of submission ``index``."""
    name = f"student{index:03d}.yaml"
    kind = index % 10
    if kind == 0:
        return name, "q1: [64, 56\nq2: 23296\n", 0, True                     # malformed YAML
    if kind == 1:
        return name, "", 0, True                                              # empty
    if kind == 2:                                                             # self-grading: its own spec and points
        text = ("spec:\n  input: [3, 8, 8]\n  layers:\n    - {name: conv1, type: conv, filters: 1, kernel: 1}\n"
                "input: [3, 8, 8]\npoints: 100\nanswers:\n"
                "  - {layer: conv1, output_shape: 1x8x8, params: 4, points: 100}\n"
                "  - {layer: pool1, receptive_field: 19, points: 100}\n")
        return name, text, 1, False                                           # only q6 is right for AlexNet
    if kind == 3:
        return name, "- just\n- a list\n", 0, True                            # not a mapping
    rng = random.Random(index)
    by_id = index % 2 == 0
    lines, points = [], 0
    for qid, (layer, quantity, worth) in QUESTIONS.items():
        choice = rng.choice(("right", "right", "wrong", "missing"))
        if choice == "missing":
            continue
        value = rng.choice(RIGHT[qid] if choice == "right" else WRONG[qid])
        points += worth if choice == "right" else 0
        lines.append(f"{qid}: {value}" if by_id else f"  - {{layer: {layer}, {quantity}: {value}}}")
    if not by_id:
        lines = ["answers:"] + (lines or ["  - {layer: conv5, params: 590080}"]) + \
                ["  - {layer: conv5, params: 590080}"]                       # not a question: ignored
    return name, "\n".join(lines) + "\n", points, False


def write_class(folder, size=200):
    """Write ``size`` submissions into ``folder``; returns {path: (expected points, expected error?)}."""
    expected = {}
    for index in range(size):
        name, text, points, error = submission(index)
        expected[write_file(folder, name, text)] = (points, error)
    return expected
