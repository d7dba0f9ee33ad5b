"""Spec errors: every problem as one line naming the file, the field path and the reason.

pipeline.yaml: engine.objects[2].name: 'USER;DROP' is not a valid ksqlDB identifier ...
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline_defs.spec.fields import key_path


class SpecError(ValueError):
    """The spec file is unreadable or invalid. ``str(err)`` is ``"<file>: <path>: <reason>"``
    (one line per problem); ``err.problems`` holds ``(path, reason)`` pairs."""

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path}: {reason}" if path else f"{file}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}invalid YAML: {problem}"


def _loc_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += key_path(str(part))
    return out.lstrip(".")


def pydantic_problems(err: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
        # drop pydantic's union-member tags ('str', 'int', ...) from paths into union-typed values,
        # and the discriminator tag of a tagged union ('oracle' in source.oracle.tables)
        loc = tuple(p for p in loc if p not in ("str", "int", "float", "bool"))
        raw = loc
        loc, _ = _walk(loc, root)
        typ = e["type"]
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, ") :]
        if typ == "extra_forbidden":
            problems.append((_loc_path(loc), f"unknown key {loc[-1]!r}" + _allowed_keys_hint(_walk(raw[:-1], root)[1])))
            continue
        if typ == "missing":
            problems.append((_loc_path(loc), "required field is missing"))
            continue
        if typ in ("union_tag_invalid", "union_tag_not_found"):
            ctx = e.get("ctx") or {}
            tag = ctx.get("discriminator", "'kind'").strip("'")
            if typ == "union_tag_not_found":
                problems.append((_loc_path(loc + (tag,)), f"required field is missing (one of {ctx.get('expected_tags', '')})"))
            else:
                problems.append(
                    (_loc_path(loc + (tag,)), f"{ctx.get('tag')!r} is not a known kind (known: {ctx.get('expected_tags', '')})")
                )
            continue
        if typ == "literal_error" and loc and loc[-1] == "kind":
            expected = msg.split("should be ", 1)[-1]
            problems.append((_loc_path(loc), f"{e.get('input')!r} is not a known kind (known: {expected})"))
            continue
        if typ in ("literal_error", "enum"):
            msg = f"{e.get('input')!r} is not allowed: {msg[0].lower() + msg[1:]}"
        elif typ in (
            "string_type",
            "int_type",
            "bool_type",
            "list_type",
            "dict_type",
            "model_type",
            "int_parsing",
            "bool_parsing",
            "float_type",
        ):
            msg = f"{e.get('input')!r}: {msg[0].lower() + msg[1:]}"
        elif typ in ("greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_short", "too_long"):
            msg = f"{e.get('input')!r}: {msg[0].lower() + msg[1:]}" if not isinstance(e.get("input"), (list, dict)) else msg
        problems.append((_loc_path(loc), msg))
    return problems


def _field_model(model: Any, part: str) -> Any:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
    return None if field is None else field.annotation


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _union_members(arg)
    return out


def _walk(loc: tuple, root: type[BaseModel]) -> tuple[tuple, list[type[BaseModel]]]:
    """Follow ``loc`` through the models. pydantic puts a member's tag into paths through a
    discriminated union (('source', 'oracle', 'tables')); the spec author wrote source.tables, so
    the tag is dropped from the path and selects the member."""
    out: list[Any] = []
    models: list[type[BaseModel]] = [root]
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            continue
        if len(models) > 1:
            tagged = [m for m in models if _kind_of(m) == part]
            if tagged:
                models = tagged
                continue
        nxt: list[type[BaseModel]] = []
        for m in models:
            ann = _field_model(m, part)
            if ann is not None:
                nxt += _union_members(ann)
        out.append(part)
        models = nxt
    return tuple(out), models


def _kind_of(model: type[BaseModel]) -> str | None:
    f = model.model_fields.get("kind")
    if f is None:
        return None
    import typing

    args = typing.get_args(f.annotation)
    return args[0] if args else None


def _allowed_keys_hint(models: list[type[BaseModel]]) -> str:
    if len(models) == 1:
        m = models[0]
        return f" (allowed: {', '.join(f.alias or n for n, f in m.model_fields.items())})"
    return ""
