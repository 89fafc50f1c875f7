"""Grade homework answers against a computed network: the library behind ``cnncalc check``.

The work lives in ``cnncalc.grading``, one job per module, imports pointing one way:

    quantities, values, results   the quantities, reading a claimed value, what grading produces
    explain                       the worked arithmetic a wrong answer shows (by tag, from render.explain)
    grader                        one claim against one layer, block or total: right or wrong, and why
    reading                       answer files and keys: the document, its spec, its entries, its points
    selfcheck / key / keyed       a file that decides everything itself / the instructor's key /
                                  submissions graded against the key alone
    feedback / gradebook          text; CSV, JSON and Gradescope

This module keeps the names other code and the tests import.
"""

from .authoring import key_listing, key_listing_data, variant_values
from .feedback import file_summary, overall_summary, render_text, result_lines, run_summary
from .gradebook import gradescope_names, gradescope_student, to_csv, to_gradescope, to_json
from .grader import TOTAL, Grader, Target, find_target, read_shape, unknown_quantity
from .key import Key, load_key
from .keyed import grade_submission, grade_submissions, submission_student
from .variants import Vary, student_id
from .quantities import QUANTITIES
from .reading import ANSWER_WORDS
from .results import ERROR, MISSING, RIGHT, WRONG, FileResult, Result
from .selfcheck import FILE_KEYS, check_document, check_file, check_files
from .values import (ClaimError, Number, parse_count, parse_flag, parse_memory, parse_number,
                             parse_sizes, parse_tolerance)

__all__ = [
    "ANSWER_WORDS", "ERROR", "FILE_KEYS", "MISSING", "QUANTITIES", "RIGHT", "TOTAL", "WRONG", "ClaimError",
    "FileResult", "Grader", "Key", "Number", "Result", "Target", "check_document", "check_file", "check_files",
    "Vary", "file_summary", "find_target", "gradescope_student", "key_listing", "key_listing_data",
    "student_id", "submission_student", "variant_values", "grade_submission", "grade_submissions", "gradescope_names", "load_key",
    "overall_summary", "parse_count", "parse_flag", "parse_memory", "parse_number", "parse_sizes",
    "parse_tolerance", "read_shape", "render_text", "result_lines", "run_summary", "to_csv", "to_gradescope",
    "to_json", "unknown_quantity",
]
