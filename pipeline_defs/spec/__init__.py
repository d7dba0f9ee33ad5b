"""The declarative pipeline spec: one YAML file, validated on load before any system is touched.

Every problem is one line naming the file, the field path and the reason::

    pipeline.yaml: engine.objects[2].name: 'USER;DROP' is not a valid ksqlDB identifier ...

``source``, ``engine`` and ``sinks[]`` are discriminated unions on ``kind`` whose members the
system packages register (pipeline_defs/core/registry.py).
"""

from pipeline_defs.spec.errors import SpecError
from pipeline_defs.spec.fields import duration_ms, parse_duration
from pipeline_defs.spec.loader import (
    ENV_OVERRIDES,
    PROFILE_ENV,
    SPEC_PATH_ENV,
    default_spec_path,
    load_spec,
    parse_spec,
    spec_hash,
)
from pipeline_defs.spec.model import PipelineSpec, spec_model

__all__ = [
    "ENV_OVERRIDES",
    "PROFILE_ENV",
    "SPEC_PATH_ENV",
    "PipelineSpec",
    "SpecError",
    "default_spec_path",
    "duration_ms",
    "load_spec",
    "parse_duration",
    "parse_spec",
    "spec_hash",
    "spec_model",
]
