"""Override values: ``key=value`` text read as YAML, except where YAML garbles a string key.

A shell strips the quotes of ``data.label_delimiter='|'`` and passes ``data.label_delimiter=|``;
as YAML, ``|`` is an empty block scalar, ``#`` a comment, ``yes`` a boolean and ``2`` a number.
For a key that holds only strings those readings make no sense, so the text is taken as it is.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from mindscreen.config import ConfigError, model_of

# Texts that YAML reads as null; a string key given one of them is set to null.
NULL_TEXTS = ("", "~", "null", "Null", "NULL")


def parse_value(key: str, text: str, annotation: Any = None) -> Any:
    """The value of an override's text: YAML, or the text itself for a string key YAML garbles."""
    text_key = takes_text(annotation)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        if text_key:
            return text
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise ConfigError(f"cannot parse the value of {key}={text}: {problem}; quote it or fix it") from None
    if not text_key or text.strip() in NULL_TEXTS:
        return value
    if not isinstance(value, str) or (value == "" and text.strip() not in ("''", '""')):
        return text
    return value


def takes_text(annotation: Any) -> bool:
    """Whether a field holds only strings (``str``, ``str | None``, a ``Literal`` of strings)."""
    if annotation is None:
        return False
    if annotation is str:
        return True
    if get_origin(annotation) is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    if get_origin(annotation) not in (Union, UnionType):
        return False
    options = [arg for arg in get_args(annotation) if arg is not type(None)]
    return bool(options) and all(map(takes_text, options))


def field_annotation(root: type[BaseModel], key: str) -> Any:
    """The type annotation of dotted ``key`` under ``root``; None where the key is unknown."""
    model: type[BaseModel] | None = root
    annotation: Any = None
    for part in key.split("."):
        if part.isdigit() and annotation is not None:  # an item of a list: same model
            continue
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = model_of(annotation)
    return annotation
