"""Grading a class: the key, `check --key`, the gradebook, Gradescope, untrusted submissions, `cnncalc key`.

Reference values are hand arithmetic on AlexNet (torchvision layout, 3x227x227, the EECS 498-007
lecture 8 table); see tests/grading_class.py for the key's questions and their answers.
"""

import csv
import io
import json
import os
import time

import pytest

from cli_runner import invoke
from cnncalc import grading as checker
from cnncalc.errors import CnnCalcError
from grading_class import KEY, MAX_POINTS, write_class
from helpers import write_file

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "grading")


def graded(tmp_path, text, key=KEY, name="s.yaml"):
    return checker.grade_submission(checker.load_key(key), write_file(tmp_path, name, text))


ALL_RIGHT = "q1: 64x56x56\nq2: 23296\nq3: '37,752,832'\nq4: 223948800\nq5: 182.25\nq6: 19\n"


# --- the key --------------------------------------------------------------------------------------------

def test_the_example_key_loads():
    key = checker.load_key(KEY)
    assert [q.id for q in key.questions] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert key.max_points == MAX_POINTS == 2 + 2 + 3 + 5 + 2 + 1
    assert key.report.input == (3, 227, 227)


@pytest.mark.parametrize("question, message", [
    ("{id: a, layer: conv9, quantity: params}", "k.yaml:4: no layer named 'conv9' in AlexNet; nearest: "),
    ("{id: a, layer: conv1, quantity: parms}", "k.yaml:4: unknown quantity 'parms'"),
    ("{id: a, layer: conv1, quantity: params, points: .nan}", "k.yaml:4: points must be a number from 0 to 1,000,000"),
    ("{id: a, layer: conv1, quantity: params, points: -1}", "k.yaml:4: points must be a number from 0"),
    ("{id: a, layer: conv1, quantity: params, points: 2000000}", "k.yaml:4: points must be a number from 0"),
    ("{id: a, layer: conv1, quantity: params, points: true}", "k.yaml:4: points must be a number from 0"),
    ("{id: a, layer: conv1, quantity: output_shape, tolerance: 1%}", "k.yaml:4: output_shape is exact"),
    ("{id: a, layer: conv1, quantity: params, tolerance: 1Q}", "k.yaml:4: tolerance: cannot read '1Q'"),
    ("{id: a, layer: flatten, quantity: fits}", "k.yaml:4: a: flatten (flatten) has no window"),
    ("{id: spec, layer: conv1, quantity: params}", "k.yaml:4: 'spec' cannot be a question id"),
    ("{id: a, layer: conv1, quantity: params, pionts: 2}", "k.yaml:4: unknown key 'pionts' in a question"),
    ("{id: a, layer: conv1}", "k.yaml:4: question a needs a 'layer' and a 'quantity'"),
])
def test_a_bad_key_is_one_line_with_its_file_and_line(tmp_path, question, message):
    path = write_file(tmp_path, "k.yaml", f"spec: alexnet\ninput: [3, 227, 227]\nquestions:\n  - {question}\n")
    result = invoke("check", "--key", path, write_file(tmp_path, "s.yaml", "q1: 1\n"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_key_asking_twice_or_nothing_is_refused(tmp_path):
    twice = write_file(tmp_path, "k.yaml", "spec: alexnet\nquestions:\n  - {id: a, layer: conv1, quantity: params}\n"
                                      "  - {id: b, layer: conv1, quantity: params}\n")
    with pytest.raises(CnnCalcError, match="asked twice"):
        checker.load_key(twice)
    same_id = write_file(tmp_path, "k2.yaml", "spec: alexnet\nquestions:\n  - {id: a, layer: conv1, quantity: params}\n"
                                         "  - {id: a, layer: fc6, quantity: params}\n")
    with pytest.raises(CnnCalcError, match="used twice"):
        checker.load_key(same_id)
    empty = write_file(tmp_path, "k3.yaml", "spec: alexnet\nquestions: []\n")
    with pytest.raises(CnnCalcError, match="'questions' is empty"):
        checker.load_key(empty)


# --- submissions: ids, layer form, what they cannot change ------------------------------------------------

def test_answers_by_question_id(tmp_path):
    result = graded(tmp_path, ALL_RIGHT)
    assert (result.points, result.max_points, result.correct, result.total) == (15, 15, 6, 6)
    under_answers = graded(tmp_path, "answers:\n  q1: 56x56x64\n  q3: 37752.832K\n", name="t.yaml")
    assert (under_answers.points, under_answers.correct) == (2 + 3, 2)
    statuses = {r.question: r.status for r in under_answers.results}
    assert statuses == {"q1": "right", "q2": "missing", "q3": "right", "q4": "missing", "q5": "missing",
                        "q6": "missing"}


def test_answers_by_layer_and_quantity_and_by_question_in_a_list(tmp_path):
    text = ("answers:\n  - {layer: conv1, output_shape: 64x56x56, params: 23296}\n"
            "  - {question: q6, receptive_field: 19}\n  - {layer: conv5, params: 590080}\n")
    result = graded(tmp_path, text)
    assert result.points == 2 + 2 + 1
    assert result.ignored == ["line 4: conv5 params is not a question of the key"]


def test_a_submission_that_brings_its_own_spec_input_and_points_scores_as_if_it_had_not(tmp_path):
    plain = "answers:\n  - {layer: conv1, output_shape: 64x56x56}\n  - {layer: fc6, params: '37,749k'}\n"
    # its own network, where 1x8x8 would be conv1's output; its own input; 100 points per answer
    bold = ("spec:\n  input: [3, 8, 8]\n  layers:\n    - {name: conv1, type: conv, filters: 1, kernel: 1}\n"
            "input: [3, 8, 8]\npoints: 100\nanswers:\n  - {layer: conv1, output_shape: 64x56x56, points: 100}\n"
            "  - {layer: fc6, params: '37,749k', points: -5}\n")
    as_plain, as_bold = graded(tmp_path, plain, name="p.yaml"), graded(tmp_path, bold, name="b.yaml")
    assert (as_plain.points, as_bold.points) == (2, 2)                 # q1 right (2 points), q3 wrong
    assert [r.status for r in as_plain.results] == [r.status for r in as_bold.results]
    assert as_bold.max_points == 15
    assert as_bold.notes == ["spec, input ignored: the key decides the network (AlexNet, input 3x227x227)",
                             "points ignored: the key sets them"]
    out = invoke("check", "--key", KEY, as_bold.file).stdout
    assert "note: spec, input ignored: the key decides the network (AlexNet, input 3x227x227)" in out
    assert out.rstrip().endswith("b.yaml: 2 of 15 points, 1 of 6 questions right")


def test_with_a_key_nothing_in_a_submission_is_opened_as_a_path(tmp_path, monkeypatch):
    from cnncalc.spec import loader

    opened = []
    real = loader.read_text
    monkeypatch.setattr(loader, "read_text", lambda path: opened.append(str(path)) or real(path))
    secret = write_file(tmp_path, "secret.yaml", "input: [3, 8, 8]\nlayers: []\nSECRET: hunter2\n")
    sub = write_file(tmp_path, "s.yaml", f"spec: {secret}\nanswers:\n  - {{layer: conv1, params: 23296}}\n")
    from cnncalc.grading import reading

    monkeypatch.setattr(reading, "read_text", lambda path: opened.append(str(path)) or real(path))
    result = invoke("check", "--key", KEY, sub)
    assert "hunter2" not in result.stdout + result.stderr
    assert secret not in opened and sub in opened
    assert "2 of 15 points" in result.stdout


def test_without_a_key_a_spec_must_be_a_yaml_file_and_its_contents_are_never_quoted(tmp_path):
    write_file(tmp_path, "shadow", "root:$6$SECRETHASH:19000:0:99999:7:::\n")
    for spec in ("shadow", str(tmp_path / "shadow"), "../etc/passwd", str(tmp_path)):
        path = write_file(tmp_path, "a.yaml", f"spec: '{spec}'\nanswers:\n  - {{layer: conv1, params: 1}}\n")
        result = invoke("check", path)
        assert result.exit_code == 1
        assert "SECRETHASH" not in result.stdout + result.stderr
        assert "not graded" in result.stdout
    folder_yaml = tmp_path / "dir.yaml"
    folder_yaml.mkdir()
    path = write_file(tmp_path, "a.yaml", "spec: dir.yaml\nanswers:\n  - {layer: conv1, params: 1}\n")
    assert "spec 'dir.yaml' is not a regular file" in checker.check_file(path).error


def test_a_submission_is_a_yaml_file(tmp_path):
    text = write_file(tmp_path, "notes.txt", "q1: 64x56x56 SECRET\n")
    result = invoke("check", "--key", KEY, text, "-f", "csv")
    row = list(csv.DictReader(io.StringIO(result.stdout)))[0]
    assert row["points"] == "0" and row["max_points"] == "15" and "a submission is a .yaml, .yml or .json file" in row["error"]
    assert "SECRET" not in result.stdout + result.stderr


def test_unanswered_ignored_and_repeated_answers(tmp_path):
    result = graded(tmp_path, "q2: 23296\nq9: 5\nanswers:\n  - {layer: conv1, params: 1}\n")
    assert result.points == 2
    assert result.ignored == ["line 2: 'q9' is not a question of the key",
                              "line 4: a second answer to q2; the first (line 1) counts"]
    out = invoke("check", "--key", KEY, result.file).stdout
    assert "missing  q1 conv1 output_shape: no answer  (0 of 2 points)" in out
    assert "ignored  line 2: 'q9' is not a question of the key" in out


@pytest.mark.parametrize("fmt", ["json", "gradescope", "csv"])
def test_answers_json_cannot_hold_are_written_as_text(tmp_path, fmt):
    sub = write_file(tmp_path, "s.yaml", "q1: [.nan, 56, 56]\nq2: {a: .inf}\nq3: .nan\nq4: 2024-01-01\n"
                                    "answers:\n  - {layer: conv1, 2024-01-02: 1}\n")
    plain = write_file(tmp_path, "p.yaml", "spec: alexnet\nanswers:\n  - {layer: conv1, output_shape: [.nan, 1], "
                                      "params: {a: .inf}, 2024-01-01: 3}\n")
    for args in (("--key", KEY, sub), (plain,)):
        result = invoke("check", *args, "-f", fmt)
        assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
        if fmt != "csv":
            text = json.dumps(json.loads(result.stdout), allow_nan=False)
            assert "NaN" not in text and "Infinity" not in text


# --- tolerance --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("written, right", [
    # conv2: 223,948,800 MACs; 1% is 2,239,488: 221,709,312 .. 226,188,288 are right
    ("221709312", True), ("221709311", False), ("226188288", True), ("226188289", False),
    ("222M", True), ("220M", False), ("0.22G", False), ("224M", True),
])
def test_a_key_tolerance_replaces_the_written_precision(tmp_path, written, right):
    result = graded(tmp_path, f"q4: {written}\n")
    assert result.results[3].correct is right
    assert result.points == (5 if right else 0)


def test_an_absolute_tolerance(tmp_path):
    key = write_file(tmp_path, "k.yaml", "spec: alexnet\ninput: [3, 227, 227]\nquestions:\n"
                                    "  - {id: p, layer: conv1, quantity: params, tolerance: 100}\n")
    # 23,296 +- 100
    assert graded(tmp_path, "p: 23396\n", key=key).points == 1
    assert graded(tmp_path, "p: 23397\n", key=key).points == 0
    wrong = graded(tmp_path, "p: 23397\n", key=key).results[0]
    assert wrong.expected == "23,296, give or take 100"


# --- the class: CSV, JSON, summary, Gradescope --------------------------------------------------------------

def test_a_class_of_200(tmp_path, capsys):
    expected = write_class(tmp_path)
    paths = sorted(expected)
    start = time.perf_counter()
    result = invoke("check", "--key", KEY, *paths, "-f", "csv", "-o", tmp_path / "out" / "grades.csv")
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\ngraded a class of {len(paths)} submissions in {elapsed:.2f} s")
    assert elapsed < 2.0
    assert result.exit_code == 1
    with open(tmp_path / "out" / "grades.csv", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("file,points,max_points,correct,total,error,q1,")   # then a column per question
    rows = list(csv.DictReader(lines))
    assert len(rows) == 200
    for row in rows:
        points, error = expected[row["file"]]
        assert (float(row["points"]), row["max_points"], row["total"]) == (points, "15", "6"), row
        assert bool(row["error"]) is error, row
    assert result.stdout.startswith("class: 200 submissions, 15 points each; mean ")


def test_class_summary_as_printed(tmp_path):
    full = write_file(tmp_path, "a.yaml", ALL_RIGHT)
    half = write_file(tmp_path, "b.yaml", "q1: 64x56x56\nq2: 23296\nq3: 37.752832M\nq6: 19\n")       # 2+2+3+1 = 8
    none = write_file(tmp_path, "c.yaml", "q1: [1\n")
    out = invoke("check", "--key", KEY, full, half, none).stdout
    assert out.rstrip().splitlines()[-1] == ("class: 3 submissions, 15 points each; mean 7.67, median 8, min 0, "
                                             "max 15; most missed: q4 (conv2 macs), missed by 2 of 3; 1 not graded "
                                             "(the file has an error)")


def test_class_summary_of_a_one_point_key(tmp_path):
    key = write_file(tmp_path, "key.yaml", "spec: alexnet\ninput: [3, 227, 227]\nquestions:\n"
                                         "  - {id: q1, layer: conv1, quantity: params}\n")
    # conv1: 64 filters of 3x11x11 and their biases, 64*363 + 64 = 23,296
    subs = [write_file(tmp_path, f"s{i}.yaml", f"q1: {value}\n") for i, value in enumerate((23296, 23232))]
    result = invoke("check", "--key", key, *subs)
    assert "class: 2 submissions, 1 point each; mean 0.5, median 0.5, min 0, max 1" in result.stdout


def test_json_per_submission_with_per_question_results(tmp_path):
    a = write_file(tmp_path, "a.yaml", "q1: 55x55x64\nq6: 19\n")
    data = json.loads(invoke("check", "--key", KEY, a, "-f", "json").stdout)
    assert (data["max_points"], data["spec"]) == (15, "AlexNet")
    sub, = data["submissions"]
    assert {k: sub[k] for k in ("file", "points", "max_points", "correct", "total")} == {
        "file": a, "points": 1, "max_points": 15, "correct": 1, "total": 6}
    first = sub["results"][0]
    assert (first["question"], first["status"], first["exact"], first["score"]) == ("q1", "wrong", [64, 56, 56], 0)
    assert data["summary"]["most_missed"]["question"] == "q1"


def test_gradescope_for_one_submission(tmp_path):
    a = write_file(tmp_path, "a.yaml", "q1: 64x56x56\nq3: '37,749k'\n")
    out = tmp_path / "autograder" / "results" / "results.json"        # the folders do not exist yet
    result = invoke("check", "--key", KEY, a, "-f", "gradescope", "-o", out)
    assert result.stdout.strip() == f"{a}: 2 of 15 points, 1 of 6 questions right"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["score"], data["max_score"]) == (2, 15)
    assert [(t["name"], t["score"], t["max_score"], t["visibility"]) for t in data["tests"]] == [
        ("q1: conv1 output_shape", 2, 2, "visible"), ("q2: conv1 params", 0, 2, "visible"),
        ("q3: fc6 params", 0, 3, "visible"), ("q4: conv2 macs", 0, 5, "visible"),
        ("q5: pool1 memory_kb", 0, 2, "visible"), ("q6: pool1 receptive_field", 0, 1, "visible")]
    assert "right: 37,752,832\n" in data["tests"][2]["output"]     # a key is strict: the exact value
    assert data["tests"][1]["output"] == "no answer"


def test_gradescope_for_many_submissions_writes_a_folder(tmp_path):
    a = write_file(tmp_path, "one/alice.yaml", ALL_RIGHT)
    b = write_file(tmp_path, "two/alice.yaml", "q6: 19\n")
    broken = write_file(tmp_path, "bob.yaml", "q1: [1\n")
    folder = tmp_path / "results" / "each"
    result = invoke("check", "--key", KEY, a, b, broken, "-f", "gradescope", "-o", folder)
    assert result.exit_code == 1
    assert sorted(os.listdir(folder)) == ["alice-2.json", "alice.json", "bob.json"]
    scores = {name: json.loads((folder / name).read_text())["score"] for name in os.listdir(folder)}
    assert scores == {"alice.json": 15, "alice-2.json": 1, "bob.json": 0}
    bob = json.loads((folder / "bob.json").read_text())
    assert bob["max_score"] == 15 and len(bob["tests"]) == 6 and "YAML syntax error" in bob["output"] + \
        bob["tests"][0]["output"]
    assert invoke("check", "--key", KEY, a, b, "-f", "gradescope").exit_code == 2   # several need -o FOLDER


def test_output_into_a_new_folder_and_an_unwritable_path(tmp_path):
    a = write_file(tmp_path, "a.yaml", ALL_RIGHT)
    target = tmp_path / "new" / "deeper" / "grades.csv"
    assert invoke("check", "--key", KEY, a, "-f", "csv", "-o", target).exit_code == 0
    assert target.read_text().splitlines()[1].startswith(f"{a},15,15,6,6,,")
    blocker = write_file(tmp_path, "file", "x")
    result = invoke("check", "--key", KEY, a, "-f", "csv", "-o", os.path.join(blocker, "grades.csv"))
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot write ")
    assert "Traceback" not in result.stderr + result.stdout


# --- feedback fixes ----------------------------------------------------------------------------------------

ONE_CONV = "spec:\n  input: [2, 128, 128]\n  layers:\n    - {name: c, type: conv, filters: 2, kernel: 1}\nanswers:\n"


def test_a_tie_at_the_written_precision_does_not_contradict_itself(tmp_path):
    # 2*128*128*4 = 131,072 B = 0.125 MB exactly: 0.12 and 0.13 are both roundings of it
    path = write_file(tmp_path, "a.yaml", ONE_CONV + "  - {layer: c, memory_bytes: 0.12 MB}\n")
    result, = checker.check_file(path).results
    assert result.status == "right"
    assert "0.13" not in " ".join(result.notes)
    assert result.notes == ["131,072 B lies halfway between two roundings at the precision written; 0.12 MB is one "
                            "of them"]


def test_a_value_far_off_shows_the_right_one_in_a_readable_unit(tmp_path):
    # 131,072 B is 0 MB in whole megabytes: show 128 KB instead
    path = write_file(tmp_path, "a.yaml", ONE_CONV + "  - {layer: c, memory_bytes: 5 MB}\n")
    result, = checker.check_file(path).results
    assert result.expected == "128 KB (131,072 B)"


def test_an_empty_answer_list_says_it_is_empty(tmp_path):
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\nanswers: []\n")
    assert "'answers' is empty" in checker.check_file(path).error


def test_a_missing_spec_keeps_the_path_as_written(tmp_path):
    path = write_file(tmp_path, "hw/a.yaml", "spec: ../x.yaml\nanswers:\n  - {layer: conv1, params: 1}\n")
    error = checker.check_file(path).error
    assert "spec file '../x.yaml' not found" in error
    assert str(tmp_path / "x.yaml") in error


def test_an_unknown_layer_lists_the_nearest_names(tmp_path):
    # torchvision's AlexNet applies relu as act: on conv1, so there is no relu1 row
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\nanswers:\n  - {layer: relu1, params: 0}\n")
    result, = checker.check_file(path).results
    names = result.message.split("nearest: ")[1].split(" (")[0].split(", ")
    assert len(names) == 3 and "conv1" in names
    assert "act: on a layer" in result.message


def test_trailing_zeros_are_significant(tmp_path):
    # 600K claims the thousands digit: 599,500 .. 600,500. A layer of 600,000 params:
    # fc 599 -> 1000 units = 599,000 + 1,000 = 600,000
    spec = {"input": [599, 1, 1], "layers": [{"name": "fc", "type": "fc", "units": 1000}]}
    for written, expected in (("600K", "right"), ("0.6M", "right"), ("601K", "wrong"), ("600500", "wrong")):
        results = checker.check_document({"spec": spec, "answers": [{"layer": "fc", "params": written}]}).results
        assert results[0].status == expected, written


# --- cnncalc key ------------------------------------------------------------------------------------------

def test_key_command_writes_the_true_values_as_comments(tmp_path):
    out = tmp_path / "course" / "key.yaml"
    result = invoke("key", "alexnet", "--input", "3x227x227", "--quantities", "output_shape,params,macs",
                    "--layers", "conv1,fc6", "-o", out)
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert "spec: alexnet\ninput: [3, 227, 227]\n" in text
    assert "{id: q1, layer: conv1, quantity: output_shape, points: 1}   # 64x56x56" in text
    assert "{id: q2, layer: conv1, quantity: params, points: 1}   # 23,296" in text
    assert "{id: q3, layer: conv1, quantity: macs, points: 1}   # 72,855,552" in text      # (64*56*56)*(3*11*11)
    assert "{id: q5, layer: fc6, quantity: params, points: 1}   # 37,752,832" in text
    sub = write_file(tmp_path, "s.yaml", "q1: 64x56x56\nq2: 23296\nq3: 72855552\nq4: 4096\nq5: 37752832\n"
                                    "q6: 37748736\n")
    assert invoke("check", "--key", out, sub).exit_code == 0


def test_key_command_with_a_spec_file_writes_its_path_relative_to_the_key(tmp_path):
    spec = write_file(tmp_path, "specs/net.yaml", "input: [3, 32, 32]\nlayers:\n"
                                             "  - {name: conv, type: conv, filters: 10, kernel: 5, pad: 2}\n")
    out = tmp_path / "keys" / "k.yaml"
    assert invoke("key", spec, "-o", out, "-l", "conv").exit_code == 0
    assert "spec: ../specs/net.yaml" in out.read_text()
    # CS231n: 10 5x5 filters, stride 1, pad 2 on 32x32x3: 32x32x10, 5*5*3*10 + 10 = 760 params
    sub = write_file(tmp_path, "s.yaml", "answers:\n  - {layer: conv, output_shape: 32x32x10, params: 760}\n")
    assert invoke("check", "--key", out, sub).exit_code == 0


def test_key_command_refuses_unknown_names(tmp_path):
    assert invoke("key", "alexnet", "--quantities", "parms").exit_code == 2
    result = invoke("key", "alexnet", "-l", "relu1")
    assert result.exit_code == 2 and "nearest: " in result.stderr


def test_key_from_standard_input_names_stdin_in_its_errors():
    from cli_runner import runner
    from cnncalc.cli import main

    for text, message in (("", "error: <stdin>: the spec is empty"),
                          ("[1, 2]\n", "error: <stdin>:1: a spec must be a mapping"),
                          ("input: [3, 8, 8]\nlayers:\n  - {type: conv, kernel: 3}\n",
                           "error: <stdin>:3: conv1: conv needs 'filters'")):
        result = runner().invoke(main, ["key", "-"], input=text)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
        assert "None" not in result.stderr and "built-in" not in result.stderr
    # CS231n: 10 5x5 filters, pad 2 on 3x32x32: 10x32x32, 5*5*3*10 + 10 = 760 params
    spec = "input: [3, 32, 32]\nlayers:\n  - {name: conv, type: conv, filters: 10, kernel: 5, pad: 2}\n"
    result = runner().invoke(main, ["key", "-"], input=spec)
    assert result.exit_code == 0 and "# 10x32x32" in result.stdout and "# 760" in result.stdout


# --- the examples -------------------------------------------------------------------------------------------

def test_the_example_submissions():
    alice, bob = (os.path.join(EXAMPLES, "submissions", f"{n}.yaml") for n in ("alice", "bob"))
    results = checker.grade_submissions(checker.load_key(KEY), [alice, bob])
    assert [(r.points, r.max_points) for r in results] == [(15, 15), (4, 15)]
    carol = checker.grade_submission(checker.load_key(KEY), os.path.join(EXAMPLES, "submissions", "carol.yaml"))
    assert (carol.points, carol.max_points) == (0, 15) and "the file is empty" in carol.error
    assert results[1].notes and results[1].ignored
