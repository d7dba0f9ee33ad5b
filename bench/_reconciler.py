"""The product's data check as the chaos bench and its test use it from outside Dagster: compare_pass over the sink's
keyspace, with a restarting Redis or PostgreSQL read as "not matched yet" rather than an error. No sibling imports, so
tests can import it as bench._reconciler."""

from __future__ import annotations

from types import SimpleNamespace


class Reconciler:
    """The product's comparison (pipeline_defs.systems.redis.checks.compare_pass) over the sink's keyspace."""

    def __init__(self, spec, env):
        from pipeline_defs.lineage import build_lineage
        from resources.postgres import PostgresResource
        from resources.redis_json import RedisResource

        [node] = build_lineage(spec).by_kind("redis_keys")
        self.p = node.desired
        self.res = SimpleNamespace(
            redis=RedisResource(url=env["REDIS_URL"]),
            postgres=PostgresResource(
                host=env["POSTGRES_HOST"],
                port=int(env["POSTGRES_PORT"]),
                dbname=env["POSTGRES_DB"],
                user=env["POSTGRES_ADMIN_USER"],
                password=env["POSTGRES_ADMIN_PASSWORD"],
            ),
        )

    def compare(self, floor=None):
        from pipeline_defs.systems.redis.checks import compare_pass

        try:
            return compare_pass(self.p, self.res, floor)
        except Exception as e:  # Redis or PostgreSQL restarting: not matched yet
            self.res.redis.close_clients()
            self.res.postgres.close_clients()
            return SimpleNamespace(passed=False, mismatches=[], error=str(e)), None

    def exact(self, prefix: str) -> tuple[int, int, int, list]:
        """(rows in PostgreSQL, lost, double-counted, mismatches) over this run's NAMEs, stream stopped."""
        report, counts = self.compare()
        docs = {k: d for k, d in self.res.redis.get_client().iter_prefix(self.p.shape.key_prefix)}
        sh = self.p.shape
        rows = lost = double = 0
        for (name, start), n in (counts or {}).items():
            if not name.startswith(prefix):
                continue
            rows += n
            doc = docs.get(sh.key_prefix + name)
            got = int(doc[sh.count_field]) if isinstance(doc, dict) and doc.get(sh.window_start_field) == start else 0
            lost += max(0, n - got)
            double += max(0, got - n)
        return rows, lost, double, [m for m in getattr(report, "mismatches", []) if m.name.startswith(prefix)]
