"""Reading the datasets' own annotation files for the preparers
(:mod:`mmstan.datasets.preparation.recognition` and ``.retrieval``, behind
``tools/data/prepare_recognition.py`` and ``prepare_retrieval.py``): every malformed input
ends in one :class:`UserError` that names the file, the line (or JSON entry) and what was
expected, and a file with no usable row is an error, never an empty output.
"""
import csv
import json
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

from mmstan.errors import UserError
from mmstan.utils.paths import require_file

DELIMITER_NAMES = {',': 'comma', '\t': 'tab', ' ': 'space', ';': 'semicolon'}


def delimiter_name(delimiter: str) -> str:
    return DELIMITER_NAMES.get(delimiter, repr(delimiter))


def bad_line(path: str, line: int, message: str) -> UserError:
    """``<path>, line <n>: <message>``."""
    return UserError(f'{path}, line {line}: {message}')


def guess_delimiter(text: str, expected: str) -> str:
    """``" (the line looks <name>-separated)"`` when ``text`` splits on another common
    delimiter than ``expected``, else ``""``."""
    for other in ('\t', ',', ';'):
        if other != expected and other in text and expected not in text:
            return f' (the line looks {delimiter_name(other)}-separated)'
    return ''


def require_annotation(path: str, script: str) -> str:
    return require_file(path, 'annotation file',
                        f'see the docstring of tools/data/{script} for the files each dataset publishes')


def first_existing(paths: Sequence[str], script: str) -> str:
    """The first of ``paths`` that is a file; else the "not found" error for the first one,
    listing the other names looked for."""
    for path in paths:
        if osp.isfile(path):
            return path
    others = ', '.join(osp.basename(p) for p in paths[1:])
    return require_file(paths[0], 'annotation file',
                        (f'also looked for {others}; ' if others else '')
                        + f'see the docstring of tools/data/{script} for the files each dataset publishes')


def iter_csv(path: str, columns: Sequence[str], delimiter: str = ',') -> Iterator[Tuple[int, dict]]:
    """``(line number, row)`` for each non-empty row of a CSV file with a header line.

    The header must name every one of ``columns`` (more are fine), every row must have as
    many fields as the header, and a file with no row is an error. Quoted fields and CRLF
    line endings are read as :mod:`csv` reads them.
    """
    name = delimiter_name(delimiter)
    expected = f'{name}-separated columns {delimiter.join(columns)}'
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise UserError(f'{path} is empty; expected a header line with {expected}')
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise bad_line(path, 1, f'the header has no column {", ".join(missing)}; expected '
                           f'{expected}{guess_delimiter(delimiter.join(header), delimiter)}')
        rows = 0
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise bad_line(path, reader.line_num, f'{len(row)} fields where the header has '
                               f'{len(header)}; expected {expected}'
                               f'{guess_delimiter(delimiter.join(row), delimiter)}')
            rows += 1
            yield reader.line_num, dict(zip(header, (cell.strip() for cell in row)))
    if not rows:
        raise UserError(f'{path}: no rows after the header; expected {expected}')


def read_lines(path: str, what: str) -> List[Tuple[int, str]]:
    """``(line number, stripped line)`` for each non-blank line (any line ending); a file
    without one is an error (``what`` says what its lines should hold)."""
    with open(path, encoding='utf-8-sig') as f:
        lines = [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]
    if not lines:
        raise UserError(f'{path} has no lines; expected {what}')
    return lines


def load_json(path: str, what: str):
    """A JSON file's content; invalid JSON is one error line saying what it should hold."""
    with open(path, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise bad_line(path, err.lineno, f'not valid JSON ({err.msg}); expected {what}') from err


def bad_entry(path: str, index: int, message: str) -> UserError:
    """``<path>, entry <i>: <message>`` for a JSON list entry (1-based)."""
    return UserError(f'{path}, entry {index}: {message}')
