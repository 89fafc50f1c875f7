"""cnncalc check: grade answer files, alone or (a class) against an instructor's key."""

import sys

import click

from ..errors import MAX_MESSAGE_CHARS, one_line, shown
from .common import friendly_errors, write_output

FORMATS = ("text", "json", "csv", "gradescope")


@click.command()
@click.argument("answers", nargs=-1, metavar="ANSWERS...")
@click.option("--key", "-k", "key_path", metavar="KEY", default=None,
              help="Grade every file against this answer key: the key decides the spec, the questions and the "
                   "points, and nothing in a submission is opened as a path. Use it for any file you did not "
                   "write.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text (ends with a class summary); json (per file, with per-question results); csv (a "
                   "gradebook: file,points,max_points,correct,total,error); gradescope (an autograder "
                   "results.json per submission).")
@click.option("--output", "-o", "output", metavar="PATH", default=None,
              help="Write to PATH instead of standard output (missing folders are created). With "
                   "--format gradescope and several files, PATH is a folder: one results file per submission.")
@click.option("--quiet", "-q", is_flag=True, help="Text: list only wrong answers, errors and summaries.")
@click.option("--no-explain", is_flag=True, help="Text: leave out the worked arithmetic of wrong answers.")
@friendly_errors
def check(answers, key_path, fmt, output, quiet, no_explain):
    """Grade homework answers: output shapes, params, MACs, flop, memory, receptive fields.

    Without --key each ANSWERS file names its own spec (a built-in model, a .yaml or .onnx
    file relative to the answer file, or an inline spec) and lists claimed values by layer: right
    for checking your own work.
    With --key KEY every file is a submission graded against the key alone (by question id or by
    layer and quantity); unanswered questions score 0 and a file that cannot be read scores 0 with
    its error while the others are still graded. A wrong answer gets the right value and the worked
    arithmetic. Exit 0 when every answer is right, 1 otherwise.

    \b
    Answer file:                        Key (for --key):
      spec: alexnet                       spec: alexnet
      input: [3, 227, 227]                input: [3, 227, 227]
      answers:                            questions:
        - {layer: conv1, params: 23296}     - {id: q1, layer: conv1, quantity: params, points: 2}
        - {layer: total, params: 61.1M}     - {id: q2, layer: fc6, quantity: macs, tolerance: 1%}

    \b
    Examples:
      cnncalc check examples/cs231n_conv_example.yaml
      cnncalc check --key key.yaml submissions/*.yaml -f csv -o grades.csv
      cnncalc check --key key.yaml submission.yaml -f gradescope -o /autograder/results/results.json
    """
    from .. import grading as checker
    from ..errors import UsageError

    if not answers and not key_path:
        raise UsageError("give the answer files to check, or --key KEY alone to check a key")
    key = checker.load_key(key_path) if key_path else None
    for line, text in key.warnings if key else ():
        click.echo(f"warning: {one_line(click.format_filename(key.file))}:{line}: {text}", err=True)
    if not answers:
        _show_key(checker, key, fmt, output)
        return
    if output:
        _never_over(output, list(answers) + ([key_path] if key_path else []))
    all_written = True
    students = _gradescope_students(checker, answers) if key and key.vary and fmt == "gradescope" else None
    file_results = checker.grade_submissions(key, answers, students) if key else checker.check_files(answers)
    for fr, student in zip(file_results, students or ()):
        if student is None:
            fr.notes.append("the student id is the file name: no submission_metadata.json with a sid or email in "
                            "the folder above the submission")
    if fmt == "gradescope" and len(file_results) > 1:
        all_written = _gradescope_folder(checker, file_results, output, answers)
    else:
        text = _render(checker, file_results, fmt, key, quiet, no_explain)
        if output:
            write_output(output, text + "\n")
            click.echo(checker.run_summary(file_results))
        else:
            click.echo(text)
            if fmt == "csv":
                click.echo(checker.run_summary(file_results), err=True)  # the gradebook alone on stdout
    if fmt != "text":
        _echo_errors(file_results, answers_too=key is None)
    sys.exit(0 if all_written and all(fr.ok for fr in file_results) else 1)


def _show_key(checker, key, fmt, output):
    """`check --key KEY` alone: the key checked (every variant analysed), its questions and true values."""
    import json

    from ..errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"--key KEY alone prints the key as text or json, not {fmt}")
    text = checker.key_listing(key) if fmt == "text" else json.dumps(checker.key_listing_data(key), indent=2,
                                                                   allow_nan=False)
    if output:
        write_output(output, text + "\n")
        click.echo(f"wrote {one_line(click.format_filename(output))}", err=True)
    else:
        click.echo(text)


def _never_over(output, inputs):
    """-o may not name a submission or the key: the results would replace what they grade."""
    import os

    from ..errors import UsageError

    for path in inputs:
        if os.path.exists(output) and os.path.exists(path) and os.path.samefile(output, path):
            raise UsageError(f"-o: {one_line(click.format_filename(output))} is a file being read (a submission "
                             f"or the key); write the results elsewhere")


def _gradescope_students(checker, answers):
    """A Gradescope run: each submission's student from submission_metadata.json (see gradescope_student)."""
    return [checker.gradescope_student(path) for path in answers]


def _render(checker, file_results, fmt, key, quiet, no_explain):
    import json

    if fmt == "text":
        return checker.render_text(file_results, explain=not no_explain, quiet=quiet)
    if fmt == "csv":
        return checker.to_csv(file_results, key)
    data = checker.to_json(file_results, key) if fmt == "json" else checker.to_gradescope(file_results[0])
    return json.dumps(data, indent=2, allow_nan=False)


def _gradescope_folder(checker, file_results, folder, answers):
    """Several submissions: one results file each in ``folder`` (never over a submission)."""
    import json
    import os

    from ..errors import CnnCalcError, UsageError

    if not folder:
        raise UsageError("--format gradescope with several files writes one results file per submission; "
                         "name a folder with -o")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"-o {click.format_filename(folder)}: with several files -o names a folder, and this "
                         f"is a file")
    names = checker.gradescope_names(file_results)
    for name in names:
        _never_over(os.path.join(folder, name), answers)
    written = 0
    for fr, name in zip(file_results, names):
        data = json.dumps(checker.to_gradescope(fr), indent=2, allow_nan=False)
        try:
            write_output(os.path.join(folder, name), data + "\n")
            written += 1
        except CnnCalcError as err:  # one file that cannot be written is said; the others are still written
            click.echo(f"error: {shown(fr.file)}: results not written: {err}", err=True)
    click.echo(checker.run_summary(file_results))
    click.echo(f"wrote {written} results files to {one_line(click.format_filename(folder))}")
    return written == len(file_results)


def _echo_errors(file_results, answers_too=True):
    """With data on stdout, problems with the files still reach a person, one line each on stderr
    (against a key, only the files that could not be read: an unreadable answer is in the results)."""
    for fr in file_results:
        # escaped and capped as every error line is: a message may quote an answer file's text
        if fr.error is not None:
            click.echo(f"error: {shown(fr.error, MAX_MESSAGE_CHARS)}", err=True)
        for result in fr.results if answers_too else ():
            if result.status == "error":
                click.echo(f"error: {shown(f'{result.where}: {result.message}', MAX_MESSAGE_CHARS)}", err=True)
