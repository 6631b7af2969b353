"""A flow run's parameters recorded without importing FastAPI when they are plain JSON.

Prefect records a flow run's parameters through FastAPI's `jsonable_encoder`, imported
when the first run of a process starts: ~0.18 CPU-s of the main thread per `linkhealth
check` (about 4 % of a 3,000-URL first run's main thread), although linkhealth's flows
take only strings, numbers, booleans, lists and dicts of them, which that encoder returns
unchanged. Such parameters are copied as they are; anything else still goes through
Prefect's own serializing, so the flow run records the same parameters either way.
"""

from __future__ import annotations

from typing import Any, TypeVar

_SCALARS = (str, int, float, bool, type(None))


class _NotPlain(Exception):
    """A value that is not plain JSON: Prefect's encoder decides what to record."""


def plain_copy(value: Any) -> Any:
    """`value` copied when it is made of plain JSON types only (exact types: a subclass
    such as an enum member or a named tuple may encode otherwise); else `_NotPlain`."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [plain_copy(item) for item in value]
    if kind is dict:
        # FastAPI's encoder drops keys starting with "_sa" (SQLAlchemy's state).
        if not all(type(key) is str and not key.startswith("_sa") for key in value):
            raise _NotPlain
        return {key: plain_copy(item) for key, item in value.items()}
    raise _NotPlain


F = TypeVar("F")


def plain_json_parameters(flow: F) -> F:
    """`flow` (a Prefect `Flow`) serializing plain JSON parameters itself, and handing any
    others to Prefect's `serialize_parameters`, which imports FastAPI for them."""
    prefect_serialize = flow.serialize_parameters  # type: ignore[attr-defined]

    def serialize_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            return {key: plain_copy(value) for key, value in parameters.items()}
        except _NotPlain:
            return dict(prefect_serialize(parameters))

    flow.serialize_parameters = serialize_parameters  # type: ignore[attr-defined]
    return flow
