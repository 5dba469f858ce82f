"""Hypothesis fuzzing of the intake schema: any JSON either parses or is refused with named fields, nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rma.domain.requests import ReturnRequest
from rma.domain.validation import field_errors

EXAMPLE: dict[str, Any] = json.loads((Path(__file__).parents[2] / "examples" / "return_request.json").read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


PATHS = _paths(EXAMPLE)


def _mutate(data: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for part in path[:-1]:
        target = target[part]
    if delete and isinstance(target, dict):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return copy


def _check(data: Any) -> None:
    try:
        ReturnRequest.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        errors = field_errors(exc)
        assert errors
        assert all(e.field and e.reason for e in errors)
        assert all("Traceback" not in e.reason for e in errors)


@settings(max_examples=400, deadline=None)
@given(path=st.sampled_from(PATHS), value=json_values, delete=st.booleans())
def test_any_single_mutation_is_accepted_or_refused_by_field(path: tuple[Any, ...], value: Any, delete: bool) -> None:
    _check(_mutate(EXAMPLE, path, value, delete))


@settings(max_examples=200, deadline=None)
@given(data=json_values)
def test_arbitrary_json_is_refused_by_field(data: Any) -> None:
    _check(data)
