"""Escaping: one function per output format, applied to every text cell and line.

Names are printable (the spec's name policy); what else they hold must not become markup, a
formula, a column or a command in the format they are written in.
"""

def escape_html(text):
    import html

    return html.escape(text, quote=True)


def escape_markdown(text):
    """GitHub / pipe tables: HTML is live in markdown, and `|` splits cells."""
    return escape_html(text).replace("|", "\\|")


def escape_entities(text):
    """mediawiki, textile, moinmoin, youtrack: HTML escaped, and the wiki's own markup as character references."""
    out = []
    for char in text:
        if char in "&<>\"":
            out.append(escape_html(char))
        elif char in "|{}[]'~!*#=_^":
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def escape_backslash_pipe(text):
    """jira, asciidoc: `|` splits cells; a backslash escapes it."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def escape_orgtbl(text):
    return text.replace("|", "\\vert{}")


LATEX_SPECIAL = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
                 "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
                 "<": "\\textless{}", ">": "\\textgreater{}"}


def escape_latex(text):
    """LaTeX: `\\input{/etc/passwd}` stays text."""
    return "".join(LATEX_SPECIAL.get(char, char) for char in text)


def escape_rst(text):
    """reStructuredText: no directives (`.. include::`), roles, links or substitutions from a name."""
    text = text.replace("\\", "\\\\").replace("`", "\\`").replace("|", "\\|")
    return "\\" + text if text.lstrip().startswith(("..", "_")) else text


def escape_tsv(text):
    return text.replace("\t", " ")


def escape_csv(text):
    """A spreadsheet runs a cell that starts with = + - @ (or tab, CR) as a formula: a leading ' keeps it text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _unchanged(text):
    return text


# table cells; tabulate escapes html and latex cells itself (but not unsafehtml or latex_raw)
CELL_ESCAPES = {"github": escape_markdown, "pipe": escape_markdown, "mediawiki": escape_entities,
                "textile": escape_entities, "moinmoin": escape_entities, "youtrack": escape_entities,
                "jira": escape_backslash_pipe, "asciidoc": escape_backslash_pipe, "orgtbl": escape_orgtbl, "unsafehtml": escape_html,
                "latex_raw": escape_latex, "rst": escape_rst, "tsv": escape_tsv, "csv": escape_csv}
# the lines printed after a table (summary, ratios, warnings) in the same format
LINE_ESCAPES = dict(CELL_ESCAPES, latex=escape_latex, latex_booktabs=escape_latex, latex_longtable=escape_latex,
                    html=escape_html, csv=_unchanged)


def escape_cells(rows, fmt):
    """Every text cell of ``rows`` escaped for ``fmt``."""
    escape = CELL_ESCAPES.get(fmt)
    if escape is None:
        return rows
    return [[escape(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]


def escape_lines(lines, fmt):
    escape = LINE_ESCAPES.get(fmt, _unchanged)
    return [escape(line) for line in lines]
