"""The data layer's error and warning types, and how its messages point at rows.

Messages identify a bad row by file and row number only, never by its text: the texts are
people's words about their mental health. Rows are numbered the way a user counts them in
a spreadsheet or editor: data rows from 1, the header line not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

ROW_CONVENTION = "data rows counted from 1, header not counted"
_MAX_ROWS_SHOWN = 5
_MAX_NAME_CHARS = 40
_MAX_NAME_WORDS = 4


class DataError(ValueError):
    """A data file or data setting that cannot be read as labelled texts."""


class DataQualityWarning(UserWarning):
    """Rows that can be trained on but deserve a look (see :mod:`mindscreen.data.quality`)."""


class DuplicateTextWarning(DataQualityWarning):
    """Duplicate texts: within a split, shared between splits (inflating dev/test scores), or with
    conflicting labels."""


def describe_rows(positions: Sequence[int]) -> str:
    """Name rows by their 1-based number, e.g. ``rows 3, 8 (data rows counted from 1, ...)``.

    Args:
        positions: 0-based positions of the rows in the table, in file order.

    Returns:
        A phrase naming at most five rows and how many more there are.
    """
    numbers = [str(position + 1) for position in positions[:_MAX_ROWS_SHOWN]]
    more = len(positions) - len(numbers)
    listed = ", ".join(numbers) + (f" and {more} more" if more else "")
    noun = "row" if len(positions) == 1 else "rows"
    return f"{noun} {listed} ({ROW_CONVENTION})"


def show_name(name: object) -> str:
    """Quote a column or label name for a message, unless it looks like a text.

    A file without a header row turns its first texts into column names, and a label
    column set to the text column turns texts into label names; those are not echoed.
    """
    value = str(name)
    return (
        repr(value) if looks_like_name(value) else f"<{len(value)} characters, not shown: looks like a text>"
    )


def looks_like_name(value: str) -> bool:
    """Whether a string is short enough to be a column or label name rather than a text."""
    return len(value) <= _MAX_NAME_CHARS and len(value.split()) <= _MAX_NAME_WORDS


def looks_like_text(name: object) -> bool:
    """Whether a column name looks like a text rather than a name: whitespace inside it, or long.

    A file without a header row turns its first row, often a post, into the column names. Such
    names are never quoted; a real column name with a space is hidden too, which costs only
    convenience.
    """
    value = str(name).strip()
    return len(value) > _MAX_NAME_CHARS or any(char.isspace() for char in value)


def list_columns(names: Sequence[object], limit: int = 20) -> str:
    """Join column names for a message; a text-like one is shown as its position and length only."""
    shown = [
        f"<column {i + 1}: {len(str(name))} characters, not shown>"
        if looks_like_text(name)
        else repr(str(name))
        for i, name in enumerate(names[:limit])
    ]
    more = len(names) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def missing_header(column: str, source: str, names: Sequence[object], setting: str) -> str | None:
    """The message for a missing ``column`` when the header looks like a row of data, else None.

    Args:
        column: the column asked for.
        source: the file, for the message.
        names: the file's column names (its first row).
        setting: how the user picks the column, e.g. ``data.text_column``.
    """
    if not any(looks_like_text(name) for name in names):
        return None
    return (
        f"column {column!r} not found in {source}; columns are: {list_columns(names)}. Names with "
        "spaces look like texts: the file may have no header row. Add a header row naming the "
        f"columns (e.g. text,label) as its first line, or point {setting} at the right column"
    )


def column_fix(setting: str, column: str | None) -> str:
    """How to pick a column, in the caller's own terms: a flag or a config key / argument.

    Args:
        setting: what the user sets, e.g. ``--text-column`` (a flag), ``data.text_column`` (a config
            key) or ``text_column`` (a keyword argument).
        column: the column to suggest, or None to suggest none.

    Returns:
        ``Pass --text-column body`` or ``Set data.text_column=body``; without a column, the same
        with ``NAME`` and what it should name.
    """
    value = column if column is not None else "NAME"
    fix = f"Pass {setting} {value}" if setting.startswith("--") else f"Set {setting}={value}"
    return fix if column is not None else f"{fix} (the column holding the texts)"


def list_names(names: Sequence[object], limit: int = 20) -> str:
    """Join names for a message (``'a', 'b' and 3 more``), hiding any that look like texts."""
    shown = ", ".join(show_name(name) for name in names[:limit])
    more = len(names) - limit
    return shown + (f" and {more} more" if more > 0 else "")
