"""Which Table Schema a request names: a built-in one (`schemas/tables/{name}.json`) or a stored one
(`stored:{name}`, a descriptor kept in the requests table; see docs/data-model.md).

`SchemaResolver` has the signature of `witan.validation.load_schema`, so one instance can serve the
Collect+Share API (`CollectRequestService.resolve_schema`) and the upload validator
(`UploadCheckService.load_schema`): both then read the same schema for a request.
Stored schemas are immutable (written once): a request created against one is checked against it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from witan.validation.schema import Schema, SchemaError, load_schema, parse_schema

STORED_PREFIX = "stored:"
STORED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass
class SchemaResolver:
    """`resolve(name)` -> Schema; SchemaError for an unknown or broken schema."""

    get_stored: Callable[[str], str | None] | None = None  # name -> descriptor JSON text
    load_builtin: Callable[[str], Schema] = load_schema

    def __call__(self, name_or_path: Any) -> Schema:
        text = str(name_or_path)
        if not text.startswith(STORED_PREFIX):
            if "/" in text or text.endswith(".json"):
                raise SchemaError(text, "", "only built-in or stored schema names are accepted")
            return self.load_builtin(text)
        name = text[len(STORED_PREFIX) :]
        if not STORED_NAME.match(name) or self.get_stored is None:
            raise SchemaError(text, "", "no such stored schema")
        raw = self.get_stored(name)
        if raw is None:
            raise SchemaError(text, "", "no such stored schema")
        try:
            descriptor = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SchemaError(text, "", f"stored schema is not JSON ({exc.msg})") from None
        return parse_schema(descriptor, source=text)
