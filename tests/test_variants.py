"""A different problem for every student: a key's vary: and seed:, `cnncalc sheet`, and
`check --key` grading each submission against its own student's variant. Through the command line.

The key is examples/grading/variants/key.yaml; the true values of every variant and the documented
choice of a student's variant are written out by hand in tests/variants_class.py.
"""

import csv
import io
import json
import os
import time

import pytest

from cli_runner import invoke
from variants_class import KEY, MAX_POINTS, SIDES, WIDTHS, answers, variant, write_class


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def sheet_json(*args):
    result = invoke("sheet", KEY, *args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --- the variant of a student ------------------------------------------------------------------------------

def test_a_students_variant_is_the_documented_function_of_seed_and_id():
    for student in ("alice", "bob", "carol", "s0001", "a.b@uni.edu"):
        side, width = variant(student)
        data = sheet_json("--student", student)
        assert data["values"] == {"input": [3, side, side], "width": width}
    # ids compare without case and surrounding spaces; the same student always gets the same numbers
    assert sheet_json("--student", " ALICE ")["values"] == sheet_json("--student", "alice")["values"]


def test_a_class_covers_every_variant():
    seen = {variant(f"s{index:04d}") for index in range(200)}
    assert seen == {(side, width) for side in SIDES for width in WIDTHS}


# --- sheets -------------------------------------------------------------------------------------------------

def test_a_sheet_in_markdown_shows_the_network_with_the_students_numbers():
    side, width = variant("alice")
    out = invoke("sheet", KEY, "--student", "alice").stdout
    assert out.startswith("# Homework 3, a small CNN\n\nStudent: alice\n")
    assert f"Your numbers: input 3x{side}x{side}, width {width}." in out
    assert f"input: [3, {side}, {side}]" in out
    assert f"{{name: conv1, type: conv, filters: {width}, kernel: 5, pad: 2, act: relu}}" in out
    assert f"{{name: conv2, type: conv, filters: {2 * width}, kernel: 3, pad: 1, act: relu}}" in out
    assert "| q3 | macs of conv2 | 3 |" in out
    assert "    q1:    # a shape, C x H x W" in out
    assert str(answers(side, width)["q3"]) not in out.replace(",", "")   # no answers without --answers


def test_a_sheet_in_json_with_answers():
    side, width = variant("bob")
    right = answers(side, width)
    data = sheet_json("--student", "bob", "--answers")
    assert (data["student"], data["values"]) == ("bob", {"input": [3, side, side], "width": width})
    assert [q["id"] for q in data["questions"]] == ["q1", "q2", "q3", "q4", "q5"]
    by_id = {q["id"]: q["answer"] for q in data["questions"]}
    assert by_id["q1"].startswith(right["q1"] + " ")
    for qid in ("q2", "q3", "q4"):
        assert by_id[qid].split(" ")[0].replace(",", "") == right[qid]
    assert by_id["q5"].startswith(f"{right['q5']} KB")
    assert "answer" not in sheet_json("--student", "bob")["questions"][0]


@pytest.mark.parametrize("model, params, macs", [
    ("mobilenet_v3_small", 2542856, 56510400),   # torchvision, tests/data/torchvision_totals.csv (act: relu args)
    ("googlenet_aux", 13004888, 1498376192),     # the same; the auxiliary classifiers run only in training
    ("c3d", None, None),                         # dropout p: 0.5, a float read from YAML
])
def test_a_sheet_of_a_builtin_shows_a_network_that_reads_back_to_the_same_figures(tmp_path, model, params, macs):
    from cnncalc import analyze
    from cnncalc.spec import parse_text

    key = tmp_path / "key.yaml"
    assert invoke("key", model, "-l", "total", "-o", key).exit_code == 0
    result = invoke("sheet", key, "--student", "alice", "-f", "json")
    assert result.exit_code == 0, result.stderr
    again, builtin = analyze(parse_text(json.loads(result.stdout)["network"])), analyze(model)
    for figure in ("params", "macs", "flops", "memory_bytes"):
        assert again.totals[figure] == builtin.totals[figure], figure
    if params is not None:
        assert (again.totals["params"], again.totals["macs"]) == (params, macs)


def test_a_sheet_of_a_spec_that_starts_from_tokens_keeps_them_tokens(tmp_path):
    from cnncalc import analyze
    from cnncalc.spec import parse_text

    spec = write(tmp_path, "tokens.yaml", "input: {tokens: [16, 32]}\nlayers:\n  - {name: attn, type: attention, heads: 1}\n")
    key = tmp_path / "key.yaml"
    assert invoke("key", spec, "-o", key).exit_code == 0
    data = json.loads(invoke("sheet", key, "--student", "alice", "-f", "json").stdout)
    assert "input: {tokens: [16, 32]}" in data["network"]
    # 16 tokens of width 32, one head: params 4*32*32 + 4*32 = 4,224; MACs 16*32*96 + 2*16*16*32 + 16*32*32
    totals = analyze(parse_text(data["network"])).totals
    assert (totals["params"], totals["macs"]) == (4224, 16 * 32 * 96 + 2 * 16 * 16 * 32 + 16 * 32 * 32)
    assert "Input 16x32 (N x D)" in invoke("sheet", key, "--student", "alice").stdout


def test_a_sheet_says_how_to_write_a_shape_that_is_not_a_map(tmp_path):
    key = tmp_path / "key.yaml"
    assert invoke("key", "vit_b_16", "-l", "encoder.layers.encoder_layer.0.self_attention,heads.head",
                  "--quantities", "output_shape", "-o", key).exit_code == 0
    out = invoke("sheet", key, "--student", "alice").stdout
    assert "Input 3x224x224 (C x H x W)" in out
    assert "    q1:    # a shape, N x D: tokens x width (like 197x768)" in out
    assert "    q2:    # a size (like 4096)" in out
    assert invoke("key", "m5", "-l", "conv1", "--quantities", "output_shape", "-o", key).exit_code == 0
    out = invoke("sheet", key, "--student", "alice").stdout
    assert "Input 1x8000 (C x L)" in out and "    q1:    # a shape, C x L (like 16x1000)" in out


@pytest.mark.parametrize("roster, kind", [("alice\nbob\n# a comment\n\ncarol\n", "txt"),
                                          ("name,id,email\nAlice A,alice,a@x\nBob B,bob,b@x\nCarol C,carol,c@x\n",
                                           "csv")])
def test_a_roster_writes_one_sheet_per_student(tmp_path, roster, kind):
    path = write(tmp_path, f"roster.{kind}", roster)
    result = invoke("sheet", KEY, "--roster", path, "-o", tmp_path / "sheets")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote 3 sheets to {tmp_path / 'sheets'} (")
    assert sorted(os.listdir(tmp_path / "sheets")) == ["alice.md", "bob.md", "carol.md"]
    side, width = variant("carol")
    assert f"Your numbers: input 3x{side}x{side}, width {width}." in (tmp_path / "sheets" / "carol.md").read_text()
    invoke("sheet", KEY, "--roster", path, "-o", tmp_path / "json", "-f", "json")
    assert json.loads((tmp_path / "json" / "bob.json").read_text())["student"] == "bob"


@pytest.mark.parametrize("args, message", [
    ((), "give --student ID"),
    (("--student", "a", "--roster", "r"), "give --student ID"),
    (("--roster", "ROSTER"), "name a folder with -o"),
])
def test_sheet_usage_errors(tmp_path, args, message):
    args = [str(tmp_path / "r.txt") if a == "ROSTER" else a for a in args]
    result = invoke("sheet", KEY, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_roster_of_one_writes_one_sheet(tmp_path):
    result = invoke("sheet", KEY, "--roster", write(tmp_path, "r.txt", "alice\n"), "-o", tmp_path / "one")
    assert result.exit_code == 0 and result.stdout == f"wrote 1 sheet to {tmp_path / 'one'} (1 variant)\n"


@pytest.mark.parametrize("roster, message", [
    ("alice\n../etc/passwd\n", "r.txt:2: '../etc/passwd' cannot be a student id here"),
    ("alice\nALICE\n", "r.txt:2: ALICE is listed twice (first at line 1)"),
    ("# nobody\n", "no student ids"),
])
def test_a_bad_roster_is_one_line(tmp_path, roster, message):
    # the roster is an input file: its mistakes are its fault (exit 1), as a key's are (docs/commands.md)
    path = write(tmp_path, "r.txt", roster)
    result = invoke("sheet", KEY, "--roster", path, "-o", tmp_path / "out")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {path}") and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_roster_is_the_inputs_fault_as_a_missing_key_is(tmp_path):
    missing = tmp_path / "roster.csv"
    result = invoke("sheet", KEY, "--roster", missing, "-o", tmp_path / "out")
    assert result.exit_code == 1 and result.stderr == f"error: {missing}: no such file\n"
    assert invoke("sheet", tmp_path / "key.yaml", "--student", "a").exit_code == 1


# --- grading each submission against its own variant ---------------------------------------------------------

def test_a_class_of_2000_each_on_its_own_variant(tmp_path, capsys):
    expected = write_class(tmp_path)
    paths = sorted(expected)
    start = time.perf_counter()
    result = invoke("check", "--key", KEY, *paths, "-f", "csv", "-o", tmp_path / "grades.csv")
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\ngraded 2,000 submissions on their own variants in {elapsed:.2f} s")
    assert elapsed < 4.0   # benchmarks/grade_variants.py times the whole process (goal: under 2 s)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert len(rows) == 2000
    for row in rows:
        student, points = expected[row["file"]]
        side, width = variant(student)
        assert (row["student"], row["variant"]) == (student, f"input 3x{side}x{side}, width {width}")
        assert (float(row["points"]), row["max_points"]) == (points, str(MAX_POINTS)), row


def test_a_copied_answer_is_wrong_and_says_so(tmp_path):
    side, width = variant("alice")
    other = next((s, w) for s in SIDES for w in WIDTHS if s != side and w != width)
    copied = answers(*other)
    sub = write(tmp_path, "alice.yaml", f"q2: {answers(side, width)['q2']}\nq3: {copied['q3']}\n")
    result = invoke("check", "--key", KEY, sub)
    assert f"{sub}: HW3 net, input 3x{side}x{side} (student alice: input 3x{side}x{side}, width {width})" in \
        result.stdout
    assert f"{sub}: 2 of 10 points" in result.stdout
    assert "note: this is the value for another set of numbers (input " in result.stdout
    assert f"yours are input 3x{side}x{side}, width {width}" in result.stdout


def test_nothing_in_a_submission_chooses_its_variant(tmp_path):
    side, width = variant("alice")
    right = answers(side, width)
    text = "".join(f"{qid}: {value}\n" for qid, value in right.items())
    sub = write(tmp_path, "alice.yaml", "student: bob\ninput: [3, 99, 99]\n" + text)
    data = json.loads(invoke("check", "--key", KEY, sub, "-f", "json").stdout)
    assert data["submissions"][0]["points"] == MAX_POINTS
    assert data["submissions"][0]["student"] == "alice"


def test_a_gradescope_run_takes_the_student_from_the_metadata(tmp_path):
    side, width = variant("A1234")
    right = answers(side, width)
    root = tmp_path / "autograder"
    sub = write(root, "submission/answers.yaml", "".join(f"{qid}: {value}\n" for qid, value in right.items()))
    write(root, "submission_metadata.json", json.dumps({"users": [{"email": "x@uni.edu", "sid": "A1234"}]}))
    out = root / "results" / "results.json"
    result = invoke("check", "--key", KEY, sub, "-f", "gradescope", "-o", out)
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    assert (data["score"], data["max_score"]) == (MAX_POINTS, MAX_POINTS)
    assert f"(student A1234: input 3x{side}x{side}, width {width})" in data["output"]
    # no sid: the email; a metadata file inside the submission folder is the student's, and not read
    write(root, "submission_metadata.json", json.dumps({"users": [{"email": "x@uni.edu", "sid": None}]}))
    write(root, "submission/submission_metadata.json", json.dumps({"users": [{"sid": "A1234"}]}))
    invoke("check", "--key", KEY, sub, "-f", "gradescope", "-o", out)
    assert "(student x@uni.edu:" in json.loads(out.read_text())["output"]
    # no metadata at all: the file name, said so
    os.remove(root / "submission_metadata.json")
    invoke("check", "--key", KEY, sub, "-f", "gradescope", "-o", out)
    output = json.loads(out.read_text())["output"]
    assert "(student answers:" in output and "note: the student id is the file name" in output


def test_check_key_alone_checks_and_lists_every_variant():
    result = invoke("check", "--key", KEY)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "varies by student (seed 2024): 9 variants, each checked" in lines
    right = answers(48, 24)
    line = next(line for line in lines if line.startswith("  input 3x48x48, width 24: "))
    assert f"q1 {right['q1']} " in line and f"q3 {int(right['q3']):,} " in line
    data = json.loads(invoke("check", "--key", KEY, "-f", "json").stdout)
    assert len(data["variants"]) == 9 and data["variants"][0]["values"] == {"input": [3, 32, 32], "width": 16}


@pytest.mark.parametrize("vary, message", [
    ("vary: {depth: [1, 2]}\n", "k.yaml:3: vary: 'depth' is neither input nor a param of HW3 net"),
    ("vary: {width: []}\n", "k.yaml:3: vary: width must be a list of choices"),
    ("vary: {width: 16}\n", "k.yaml:3: vary: width must be a list of choices"),
    ("vary: [width]\n", "k.yaml:3: 'vary' must be a mapping"),
    ("vary: {width: [16, 16]}\n", "k.yaml:3: vary: width lists a choice twice"),
    ("vary: {input: [[3, 32, 32], [3, 2, 2]]}\n", "k.yaml:3: variant input 3x2x2: "),
    ("seed: 1\n", "k.yaml:3: 'seed' without 'vary'"),
])
def test_a_bad_vary_is_one_line(tmp_path, vary, message):
    spec = os.path.join(os.path.dirname(KEY), "net.yaml")
    key = write(tmp_path, "k.yaml", f"spec: {spec}\ntitle: t\n{vary}questions:\n"
                                    "  - {id: q1, layer: pool2, quantity: output_shape}\n")
    result = invoke("check", "--key", key)
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and message in result.stderr, result.stderr
