"""Load the YAML data files that ship with fleet (prices, calendars, tables) and report bad ones clearly.

Every data file is validated by a pydantic model. A user who edits one gets an error that names the file and
the field (``ec2["t3.large"].spot: Input should be greater than or equal to 0``), not a traceback.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class DataFileError(Exception):
    """A data file is missing, is not YAML, or does not match its model."""


def packaged(name: str) -> Path:
    """Path of a data file shipped in the fleet package (fleet/data/NAME)."""
    return Path(str(resources.files("fleet") / "data" / name))


def _field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location; keys with dots (instance types) are bracketed to stay readable."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or " " in part:
            out += f'["{part}"]'
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def describe(exc: ValidationError) -> str:
    """One line per problem: the field path and pydantic's message."""
    return "; ".join(f"{_field_path(err['loc'])}: {err['msg']}" for err in exc.errors())


def read_yaml(path: Path) -> Any:
    """Parse one YAML document, turning I/O and syntax problems into DataFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path}: not valid YAML: {exc}") from exc
    except ValueError as exc:  # YAML reads an unquoted 2026-02-30 as a date, and the calendar refuses it
        raise DataFileError(f"{path}: a value YAML cannot read: {exc} (a date that does not exist?)") from exc


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """Read `path` and validate it against `model`."""
    data = read_yaml(path)
    if data is None:
        raise DataFileError(f"{path}: the file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DataFileError(f"{path}: {describe(exc)}") from exc
