"""Parsed YAML and HCL as the checks read them: a value of the wrong shape reads as empty, never raises, since the
schema checks are the ones that report wrong shapes."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
