"""One Dagster ConfigurableResource per external system of the CDC pipeline, each a thin shell over a
plain client.

Conventions shared by every resource (see the module named):
- endpoints and secret names: one pydantic-settings model (endpoints.py);
- retries: tenacity with a rule per system (retry.py);
- client lifetime: the resource owns its clients for one execution and closes them at teardown;
  outside Dagster use `with resource.get_client() as client:` (_http.py ClientOwner);
- errors: a typed error per system, an `Unreachable` subclass naming host:port or URL for network
  failures, no secret in any message (errors.py, redaction.py).
"""
