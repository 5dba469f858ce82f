"""Write docs/return-request.schema.json from the intake model, for upstreams that do not import this package.

    uv run python scripts/export_schemas.py           # rewrite the file
    uv run python scripts/export_schemas.py --check   # exit 1 if the committed file is out of date

The schema is generated, never edited by hand: `ReturnRequest` is the one definition of the intake body, over HTTP
and over the queue alike, and a test fails when the committed file no longer matches it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rma.domain.requests import ReturnRequest

TARGET = Path(__file__).resolve().parents[1] / "docs" / "return-request.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def return_request_schema() -> dict[str, Any]:
    return {"$schema": DRAFT, **ReturnRequest.model_json_schema()}


def render() -> str:
    return json.dumps(return_request_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{TARGET} is out of date: run scripts/export_schemas.py\n")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
