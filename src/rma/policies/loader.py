"""Load a policy book from a TOML (or JSON) file, with every problem named by field (configuration, like `rma.config`:
the composition root and `rma policy` read it; the services get the book in their context)."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from rma.domain.errors import PolicyError
from rma.domain.policy.model import PolicyBook
from rma.domain.validation import field_errors

DEFAULT_POLICY = "default.toml"


def _read(path: Path | None) -> tuple[str, dict[str, object]]:
    if path is None:
        text = resources.files("rma.policies").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        return f"(built-in {DEFAULT_POLICY})", tomllib.loads(text)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise PolicyError(f"policy file {path} is not valid {kind}: {exc}") from exc
    return str(path), data


def load_policy_book(path: Path | None = None) -> PolicyBook:
    """The policy book in `path`, or the shipped default when `path` is None."""
    name, data = _read(path)
    try:
        return PolicyBook.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
        raise PolicyError(f"policy file {name} is invalid: {problems}") from exc
