"""Compare a double's JSON with a recorded contract sample: same keys, same value types, same
`@type` and `error_code`. Values otherwise may differ (names, ids, counts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent.parent / "contract_samples"
EXACT_KEYS = ("@type", "error_code")
# JSON objects that are maps (free keys): only their value types are compared.
MAPS = ("statusCount", "streamsProperties", "overriddenProperties")


def load_sample(name: str) -> Any:
    """`name` like "ksqldb/currentStatus_create_table.json"."""
    return json.loads((SAMPLES / name).read_text())


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def shape_mismatches(sample: Any, actual: Any, *, nullable: tuple[str, ...] = (), path: str = "$") -> list[str]:
    """Every difference in structure; `nullable` lists dotted key paths (list indexes dropped, e.g.
    "sourceDescription.windowType") whose value may be null on either side."""
    key_path = ".".join(part for part in path.split(".")[1:] if not part.startswith("["))
    if key_path in nullable and (sample is None or actual is None):
        return []
    if _kind(sample) != _kind(actual):
        return [f"{path}: sample has {_kind(sample)} {sample!r:.60}, double has {_kind(actual)} {actual!r:.60}"]
    problems: list[str] = []
    if isinstance(sample, dict) and path.rsplit(".", 1)[-1] in MAPS:
        kinds = {_kind(v) for v in sample.values()}
        for k, v in actual.items():
            if kinds and _kind(v) not in kinds:
                problems.append(f"{path}.{k}: value type {_kind(v)}, sample map holds {sorted(kinds)}")
        return problems
    if isinstance(sample, dict):
        missing, extra = sample.keys() - actual.keys(), actual.keys() - sample.keys()
        if missing:
            problems.append(f"{path}: double lacks keys {sorted(missing)}")
        if extra:
            problems.append(f"{path}: double has extra keys {sorted(extra)}")
        for k in sample.keys() & actual.keys():
            if k in EXACT_KEYS and sample[k] != actual[k]:
                problems.append(f"{path}.{k}: sample {sample[k]!r} != double {actual[k]!r}")
            problems += shape_mismatches(sample[k], actual[k], nullable=nullable, path=f"{path}.{k}")
    elif isinstance(sample, list) and sample and actual:
        if len({_kind(x) for x in sample}) > 1:
            # a positional tuple such as a pull-query row: same length, same type per position
            if len(sample) != len(actual):
                return [f"{path}: sample has {len(sample)} elements, double has {len(actual)}"]
            for i, (s, a) in enumerate(zip(sample, actual, strict=True)):
                problems += shape_mismatches(s, a, nullable=nullable, path=f"{path}.[{i}]")
            return problems
        for i, item in enumerate(actual):
            # compare with the sample element of the same key set when there is one: some keys are
            # present only on some elements (a field's "type" exists only on KEY/HEADER columns)
            ref = next((x for x in sample if isinstance(x, dict) and isinstance(item, dict) and x.keys() == item.keys()), sample[0])
            problems += shape_mismatches(ref, item, nullable=nullable, path=f"{path}.[{i}]")
    return problems


def assert_matches_sample(name: str, actual: Any, *, nullable: tuple[str, ...] = ()) -> None:
    problems = shape_mismatches(load_sample(name), actual, nullable=nullable)
    assert not problems, f"double drifted from contract sample {name}:\n  " + "\n  ".join(problems)
