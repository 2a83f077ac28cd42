"""Canonical JSON and content hashes for frozen snapshots (DESIGN §7)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

__all__ = ["canonical_json", "snapshot_hash", "to_canonical"]


def to_canonical(value: Any) -> Any:
    """Return a value made only of JSON types, in a form that does not depend on ordering."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return to_canonical(value.value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("snapshots cannot hold NaN or infinity")
        return value
    if isinstance(value, Decimal | Fraction):
        # str() keeps a Decimal's exponent: callers quantize money and scores before hashing.
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"snapshots hold aware datetimes only, got {value!r}")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_canonical(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            name = str(to_canonical(key)) if not isinstance(key, str) else key
            if name in converted:
                raise ValueError(f"two keys of a mapping turn into the same text {name!r}")
            converted[name] = to_canonical(item)
        return converted
    if isinstance(value, set | frozenset):
        items = [to_canonical(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, list | tuple):
        return [to_canonical(item) for item in value]
    raise TypeError(f"cannot put {type(value).__name__} into a snapshot")


def canonical_json(value: Any) -> str:
    """Return canonical JSON: sorted keys, no whitespace, Decimals and datetimes as strings."""
    return json.dumps(
        to_canonical(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def snapshot_hash(value: Any) -> str:
    """Return the sha256 hex digest of the canonical JSON of a value."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
