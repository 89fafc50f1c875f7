"""Grades a TA can sign: strict keys, repeated answers, the per-question gradebook, a key
checked on its own, and the small things a class runs into. All through the command line.

Reference values are hand arithmetic of the lecture formulas: AlexNet as in the EECS 498-007 lecture 8
table (torchvision layout, 3x227x227; see tests/grading_class.py), the CS231n AlexNet slide (conv1
96 11x11/4 on 227x227x3: 55x55x96, 96*3*11*11 + 96 = 34,944 params), and VGG-16's first conv
(64 3x3 on 3x224x224: 64*3*9 + 64 = 1,792 params, 64*224*224 * 3*9 = 86,704,128 MACs) and totals
(138,357,544 params, torchvision; 15,470,264,320 MACs, the 15.47 GMACs fvcore and ptflops report).
"""

import csv
import io
import json
import os

import pytest

from cli_runner import invoke
from grading_class import KEY

HEADER = ("file,points,max_points,correct,total,error,q1,q2,q3,q4,q5,q6,"
          "q1_status,q2_status,q3_status,q4_status,q5_status,q6_status")


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def key_file(tmp_path, questions, extra="", spec="alexnet", input="[3, 227, 227]", name="k.yaml"):
    return write(tmp_path, name, f"spec: {spec}\ninput: {input}\n{extra}questions:\n{questions}")


def grade_json(*args):
    result = invoke("check", *args, "-f", "json")
    return result, json.loads(result.stdout)


# --- 1. strict keys ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("written, right", [
    ("23296", True), ("'23,296'", True), ("23.296K", True), ("0.023296M", True), ("23296 params", True),
    ("23.3K", False), ("23K", False), ("0.02M", False), ("23300", False), ("23297", False),
])
def test_a_key_without_tolerance_takes_the_exact_value_only(tmp_path, written, right):
    key = key_file(tmp_path, "  - {id: q1, layer: conv1, quantity: params}\n")
    sub = write(tmp_path, "s.yaml", f"q1: {written}\n")
    result, data = grade_json("--key", key, sub)
    answer = data["submissions"][0]["results"][0]
    assert answer["correct"] is right and result.exit_code == (0 if right else 1)
    if not right:
        assert answer["expected"] == "23,296"


def test_the_issue_key_no_longer_gives_4_of_4_for_roundings(tmp_path):
    key = str(tmp_path / "k.yaml")
    assert invoke("key", "vgg16", "--layers", "conv1.1,total", "--quantities", "params,macs", "-o", key).exit_code == 0
    sub = write(tmp_path, "s.yaml", "q1: 2K\nq2: 0.1G\nq3: 0.1G\nq4: 2e10\n")
    result = invoke("check", "--key", key, sub, "--no-explain")
    assert result.exit_code == 1
    assert f"{sub}: 0 of 4 points, 0 of 4 questions right" in result.stdout
    assert "note: 2K is 1,792 rounded, and this key takes only the exact value" in result.stdout
    exact = write(tmp_path, "e.yaml", "q1: 1792\nq2: '86,704,128'\nq3: 138.357544M\nq4: 15470264320\n")
    assert f"{exact}: 4 of 4 points" in invoke("check", "--key", key, exact).stdout


def test_key_tolerance_writes_a_key_wide_tolerance(tmp_path):
    key = str(tmp_path / "k.yaml")
    result = invoke("key", "vgg16", "--layers", "total", "--quantities", "macs", "--tolerance", "1%", "-o", key)
    assert result.exit_code == 0
    assert "\ntolerance: 1%\n" in open(key, encoding="utf-8").read()
    # 15,470,264,320 +- 1%: 15.5G is 0.2% off, 2e10 is 29% off
    near, far = write(tmp_path, "a.yaml", "q1: 15.5G\n"), write(tmp_path, "b.yaml", "q1: 2e10\n")
    _, data = grade_json("--key", key, near, far)
    assert [s["points"] for s in data["submissions"]] == [1, 0]
    assert invoke("key", "vgg16", "--tolerance", "lots").exit_code == 2


def test_a_question_tolerance_overrides_the_key_wide_one(tmp_path):
    # key-wide 1% of 23,296 (232.96) accepts 23.3K; total params (61,100,840) with its own tolerance 10 do not
    both = key_file(tmp_path, "  - {id: a, layer: conv1, quantity: params}\n"
                              "  - {id: b, layer: total, quantity: params, tolerance: 10}\n",
                    extra="tolerance: 1%\n", name="k2.yaml")
    sub = write(tmp_path, "t.yaml", "a: 23.3K\nb: 61.1M\n")
    _, data = grade_json("--key", both, sub)
    assert [r["correct"] for r in data["submissions"][0]["results"]] == [True, False]


def test_a_tolerance_under_1_without_percent_is_a_warning(tmp_path):
    key = key_file(tmp_path, "  - {id: q1, layer: conv1, quantity: params, tolerance: 0.01}\n")
    sub = write(tmp_path, "s.yaml", "q1: 23296\n")
    result = invoke("check", "--key", key, sub)
    assert result.exit_code == 0
    assert (f"warning: {key}:4: tolerance 0.01 has no %, so it is an absolute amount (0.01 of a unit: in effect "
            "exact); write 1% for a relative tolerance") in result.stderr
    assert "warning: --tolerance: tolerance 0.5 has no %" in invoke("key", "alexnet", "--tolerance", "0.5").stderr


def test_self_check_without_a_key_keeps_the_written_precision_rule(tmp_path):
    path = write(tmp_path, "a.yaml", "spec: alexnet_cs231n\nanswers:\n  - {layer: conv1, params: 35K}\n")
    result = invoke("check", path)
    assert result.exit_code == 0 and "34,944 is 35K at the precision written" in result.stdout


def test_memory_kb_key_comments_are_in_kb():
    # pool1: 64*27*27*4 B = 186,624 B = 182.25 KB
    out = invoke("key", "alexnet", "--input", "3x227x227", "--layers", "pool1", "--quantities",
                 "memory_kb,memory_bytes").stdout
    assert "quantity: memory_kb, points: 1}   # 182.25 KB = 186,624 B" in out
    assert "quantity: memory_bytes, points: 1}   # 186,624 B = 182.25 KB" in out


def test_a_strict_memory_kb_answer(tmp_path):
    key = key_file(tmp_path, "  - {id: q1, layer: pool1, quantity: memory_kb}\n")
    good = [write(tmp_path, f"g{i}.yaml", f"q1: {text}\n") for i, text in enumerate(("182.25", "182.25 KB",
                                                                                      "186624 B"))]
    bad = write(tmp_path, "b.yaml", "q1: 182 KB\n")
    _, data = grade_json("--key", key, *good, bad)
    assert [s["points"] for s in data["submissions"]] == [1, 1, 1, 0]
    assert data["submissions"][3]["results"][0]["expected"] == "182.25 KB (186,624 B)"


# --- 2. a repeated answer ----------------------------------------------------------------------------------

def test_a_repeated_answer_keeps_the_first_and_grades_the_rest(tmp_path):
    sub = write(tmp_path, "s.yaml", "q2: 23296\nq1: 64x56x56\nq2: 5\nq6: 19\n")
    result = invoke("check", "--key", KEY, sub)
    assert f"{sub}: 5 of 15 points, 3 of 6 questions right" in result.stdout
    assert "ignored  line 3: a second answer to q2; the first (line 1) counts" in result.stdout
    inside = write(tmp_path, "t.yaml", "answers:\n  - {layer: conv1, params: 23296, params: 1}\n")
    result = invoke("check", "--key", KEY, inside)
    assert f"{inside}: 2 of 15 points" in result.stdout
    assert "ignored  line 2: 'params' is written again; the first (line 2) counts" in result.stdout


# --- 3. the gradebook --------------------------------------------------------------------------------------

def test_the_gradebook_has_a_points_and_a_status_column_per_question(tmp_path):
    good = write(tmp_path, "a.yaml", "q1: 64x56x56\nq2: lots\nq3: '37,749k'\n")
    broken = write(tmp_path, "b.yaml", "q1: [1\n")
    result = invoke("check", "--key", KEY, good, broken, "-f", "csv")
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    first, second = rows
    assert [first[q] for q in ("q1", "q2", "q3", "q4", "q5", "q6")] == ["2", "0", "0", "0", "0", "0"]
    assert [first[f"q{i}_status"] for i in range(1, 7)] == ["right", "unreadable", "wrong", "missing", "missing",
                                                            "missing"]
    assert first["error"].startswith("q2: conv1 params: cannot read 'lots' as a number")
    assert second["points"] == "0" and "YAML syntax error" in second["error"]
    assert {second[f"q{i}_status"] for i in range(1, 7)} == {"unreadable"}
    # the class summary goes to stderr: stdout is the gradebook alone
    assert result.stderr.startswith("class: 2 submissions, 15 points each; mean 1, ")


def test_every_answer_unreadable_is_not_an_empty_error_cell(tmp_path):
    sub = write(tmp_path, "s.yaml", "q2: lots\nq3: many\n")
    row, = csv.DictReader(io.StringIO(invoke("check", "--key", KEY, sub, "-f", "csv").stdout))
    assert row["points"] == "0"
    assert "q2: conv1 params: cannot read 'lots'" in row["error"] and "; q3: fc6 params: cannot read 'many'" in \
        row["error"]


# --- 4. a key checked on its own ------------------------------------------------------------------------------

def test_check_key_alone_lists_the_questions_with_true_values():
    result = invoke("check", "--key", KEY)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{KEY}: AlexNet, input 3x227x227; 6 questions, 15 points; a count or size is right "
                               f"only at its exact value")
    body = "\n".join(lines)
    for expected in ("64x56x56 (C x H x W)", "23,296", "37,752,832", "223,948,800 (224M), give or take 1%",
                     "182.25 KB = 186,624 B"):
        assert expected in body
    data = json.loads(invoke("check", "--key", KEY, "-f", "json").stdout)
    assert [(q["id"], q["tolerance"]) for q in data["questions"]][2:4] == [("q3", None), ("q4", "1%")]
    assert data["questions"][1]["value"].startswith("23,296")


def test_a_key_of_ten_questions_or_more_lists_them_in_columns(tmp_path):
    key = tmp_path / "lenet.yaml"
    assert invoke("key", "lenet5", "-o", key).exit_code == 0   # 5 layers with weights and total, 2 questions each
    lines = invoke("check", "--key", key).stdout.splitlines()[1:]
    assert len(lines) == 12 and {line.index(" 1 point ") for line in lines} == {lines[0].index(" 1 point ")}
    # LeNet-5 (LeCun et al. 1998): C1 is 6 5x5 filters on 1x32x32, 6*25 + 6 = 156 params; the output layer 84*10 + 10
    assert lines[1].split() == ["q2", "C1", "params", "1", "point", "156"]
    assert lines[9].split() == ["q10", "output", "params", "1", "point", "850"]
    assert {line.index(line.split()[1]) for line in lines} == {5}   # the layers start in one column


def test_check_with_nothing_to_check_is_a_usage_error(tmp_path):
    assert invoke("check").exit_code == 2
    bad = key_file(tmp_path, "  - {id: q1, layer: conv9, quantity: params}\n")
    result = invoke("check", "--key", bad)
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {bad}:4: no layer named 'conv9'")


# --- 5. ids, ~, short options, .json, -o ---------------------------------------------------------------------

def test_question_ids_ignore_case_with_a_note_and_tilde_is_no_answer(tmp_path):
    sub = write(tmp_path, "s.yaml", "Q1: 64x56x56\nq2: ~\n")
    result = invoke("check", "--key", KEY, sub)
    assert "note: 'Q1' read as q1 (question ids are not case-sensitive)" in result.stdout
    assert "missing  q2 conv1 params: no answer (~)  (0 of 2 points)" in result.stdout
    assert "None" not in result.stdout
    assert f"{sub}: 2 of 15 points" in result.stdout
    clash = key_file(tmp_path, "  - {id: q1, layer: conv1, quantity: params}\n"
                               "  - {id: Q1, layer: fc6, quantity: params}\n")
    result = invoke("check", "--key", clash)
    assert result.exit_code == 1 and "question id 'Q1' is used twice (first at line 4 as 'q1'; ids ignore case)" \
        in result.stderr


def test_q_is_quiet_in_check_and_in_key(tmp_path):
    out = tmp_path / "k.yaml"
    result = invoke("key", "alexnet", "-q", "-o", out)
    assert result.exit_code == 0 and result.stderr == "" and out.exists()
    assert invoke("key", "alexnet", "-o", tmp_path / "k2.yaml").stderr.startswith("wrote ")
    sub = write(tmp_path, "s.yaml", "q1: 64x56x56\n")
    quiet = invoke("check", "--key", KEY, sub, "-q").stdout
    assert "right  q1" not in quiet and "missing  q2" in quiet


def test_a_json_submission_is_graded(tmp_path):
    sub = write(tmp_path, "s.json", '{"q1": "64x56x56", "q2": 23296}\n')
    _, data = grade_json("--key", KEY, sub)
    assert data["submissions"][0]["points"] == 4


def test_output_never_overwrites_a_submission(tmp_path):
    a = write(tmp_path, "subs/alice.json", '{"q1": "64x56x56"}\n')
    b = write(tmp_path, "subs/bob.json", '{"q6": 19}\n')
    result = invoke("check", "--key", KEY, a, b, "-f", "gradescope", "-o", tmp_path / "subs")
    assert result.exit_code == 2 and "is a file being read" in result.stderr
    assert open(a, encoding="utf-8").read() == '{"q1": "64x56x56"}\n'
    result = invoke("check", "--key", KEY, a, "-f", "gradescope", "-o", a)
    assert result.exit_code == 2 and open(a, encoding="utf-8").read() == '{"q1": "64x56x56"}\n'
    assert invoke("check", "--key", KEY, a, "-f", "csv", "-o", KEY).exit_code == 2
    elsewhere = tmp_path / "results"
    assert invoke("check", "--key", KEY, a, b, "-f", "gradescope", "-o", elsewhere).exit_code == 1
    assert sorted(os.listdir(elsewhere)) == ["alice.json", "bob.json"]


# --- 6. hints -----------------------------------------------------------------------------------------------

def test_the_alexnet_cs231n_hint(tmp_path):
    # the CS231n slide's answers, checked against the torchvision AlexNet
    path = write(tmp_path, "a.yaml", "spec: alexnet\nanswers:\n  - {layer: conv1, output_shape: 55x55x96, "
                                     "params: 34944}\n  - {layer: pool1, output_shape: 27x27x96}\n")
    out = invoke("check", path).stdout
    assert ("note: every answer is right for the built-in alexnet_cs231n, the CS231n slides' AlexNet (96 filters in "
            "conv1, 227x227x3); spec: alexnet is the torchvision layout") in out
    back = write(tmp_path, "b.yaml", "spec: alexnet_cs231n\nanswers:\n  - {layer: conv1, params: 23296}\n")
    assert "every answer is right for the built-in alexnet, the torchvision layout" in invoke("check", back).stdout
    mixed = write(tmp_path, "c.yaml", "spec: alexnet\nanswers:\n  - {layer: conv1, params: 34944}\n"
                                      "  - {layer: conv1, output_shape: 12x12x12}\n")
    assert "every answer is right" not in invoke("check", mixed).stdout


def test_a_spec_input_that_looks_like_h_w_c(tmp_path):
    # CS231n's 32x32x3 input written channels last: read as 32 channels of 32x3
    spec = "spec:\n  input: [32, 32, 3]\n  layers:\n    - {name: conv1, type: conv, filters: 10, kernel: 5, pad: 2}\n"
    path = write(tmp_path, "a.yaml", spec + "answers:\n  - {layer: conv1, params: 760}\n")
    out = invoke("check", path).stdout
    assert ("note: the spec's input [32, 32, 3] is read as C x H x W, 32 channels of 32x3; a 32x32 image with 3 "
            "channels is written input: [3, 32, 32]") in out
    key = write(tmp_path, "k.yaml", spec + "questions:\n  - {id: q1, layer: conv1, quantity: params}\n")
    assert f"warning: {key}:1: the spec's input [32, 32, 3]" in invoke("check", "--key", key).stderr
    fine = write(tmp_path, "b.yaml", spec.replace("[32, 32, 3]", "[3, 32, 32]") + "answers:\n"
                                                                                 "  - {layer: conv1, params: 760}\n")
    assert "note:" not in invoke("check", fine).stdout


def test_validate_says_which_command_reads_a_key_or_an_answer_file():
    result = invoke("validate", KEY)
    assert result.exit_code == 1
    assert result.stderr.rstrip().endswith("; this is an answer key: check it with `cnncalc check --key FILE`")
    answers = os.path.join(os.path.dirname(KEY), os.pardir, "wrong_answers.yaml")
    assert "this is an answer file: check it with `cnncalc check FILE`" in invoke("validate", answers).stderr
