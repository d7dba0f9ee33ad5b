"""The control plane at 200 tables: a generated local-profile spec (each table with its Debezium connector,
Flink source object and aggregate (one Flink job each), Kafka topics, Redis sink and keyspace) against the
2-table pipeline.local.yaml, same run:

* definitions load (fresh interpreter: import + build + validate, like `dagster definitions validate`);
* a plan (the `plan` job, dry run: reads every system, writes nothing, submits nothing) against the running
  local stack, counting requests per system: HTTP requests by endpoint (httpx), SQL statements (psycopg),
  Kafka client calls (each one or more broker requests); the count must not grow with the objects;
* one connector_health tick: Connect requests;
* the Dagster UI: dagster-webserver start until the code location is loaded, then headless Chromium on the
  global asset graph (groups collapsed; the largest group expanded; every group expanded) until the layout is
  drawn with every status fetched, and at which zoom (below 0.15 Dagster draws group outlines only).

Definitions load gives wall seconds and the loading process's CPU seconds (on shared cores the wall time also
counts waiting for a core).

    .venv/bin/python bench/control_plane_scale.py [--tables 200] [--no-ui] [--no-plan] [--load-runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, stack_env, table
from _scale_spec import write_scale_spec

# wall seconds, and this process's CPU seconds (user + sys) for build + validate: on shared cores the wall time
# includes waiting for a core, the CPU time does not
LOAD = """
import json, resource, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t = time.perf_counter()
import dagster as dg
t1 = time.perf_counter(); c1 = cpu()
from pipeline_defs import defs
t2 = time.perf_counter()
dg.Definitions.validate_loadable(defs)
t3 = time.perf_counter(); c3 = cpu()
g = defs.resolve_asset_graph()
print(json.dumps({"dagster": t1 - t, "build": t2 - t1, "validate": t3 - t2, "cpu": c3 - c1,
                  "assets": len(list(g.get_all_asset_keys())), "checks": len(g.asset_check_keys)}))
"""

# Runs in a fresh interpreter with the spec in the environment: counts every request the plan job and one
# health tick make, by system.
COUNT = r"""
import collections, json, os, time, httpx, psycopg
from urllib.parse import urlsplit
import dagster as dg
counts = collections.Counter()
ports = {urlsplit(os.environ[v]).port: name for v, name in
         (("KAFKA_CONNECT_URL", "Connect HTTP"), ("FLINK_REST_URL", "Flink REST"), ("FLINK_GATEWAY_URL", "Flink SQL Gateway"))}
send = httpx.Client.send
def counting_send(self, request, **kw):
    counts[ports.get(request.url.port, f"HTTP :{request.url.port}")] += 1
    return send(self, request, **kw)
httpx.Client.send = counting_send
execute = psycopg.Cursor.execute
def counting_execute(self, *a, **kw):
    counts["Postgres SQL"] += 1
    return execute(self, *a, **kw)
psycopg.Cursor.execute = counting_execute
from confluent_kafka import admin as ka
from resources import kafka as rk
# each of these calls is one request to the broker (or one per broker)
for m in ("list_topics", "describe_configs", "list_offsets", "create_topics", "delete_topics",
          "list_consumer_group_offsets"):
    orig = getattr(ka.AdminClient, m)
    def wrap(self, *a, _orig=orig, **kw):
        counts["Kafka requests"] += 1
        return _orig(self, *a, **kw)
    setattr(ka.AdminClient, m, wrap)
class CountingConsumer(rk.Consumer):
    def get_watermark_offsets(self, *a, **kw):
        counts["Kafka requests"] += 1
        return super().get_watermark_offsets(*a, **kw)
    def committed(self, *a, **kw):
        counts["Kafka requests"] += 1
        return super().committed(*a, **kw)
rk.Consumer = CountingConsumer
from pipeline_defs import defs
out = {}
with dg.instance_for_test() as instance:
    t = time.perf_counter()
    result = defs.get_job_def("plan").execute_in_process(instance=instance)
    out["plan_seconds"] = time.perf_counter() - t
    summary = result.output_for_node("plan_pipeline")
    out["objects"], out["would_change"] = summary["objects"], summary["would_change"]
    out["plan"] = dict(counts)
    counts.clear()
    sensor = next(s for s in defs.sensors if s.name == "connector_health")
    with dg.build_sensor_context(instance=instance, definitions=defs,
                                 resources={k: defs.resources[k] for k in ("connect", "kafka")}) as ctx:
        t = time.perf_counter()
        sensor.evaluate_tick(ctx)
        out["tick_seconds"] = time.perf_counter() - t
    out["tick"] = dict(counts)
print("RESULT " + json.dumps(out))
"""


def fresh(code: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(proc.stderr[-4000:])
    line = [x for x in proc.stdout.splitlines() if x.startswith(("RESULT ", "{"))][-1]
    return json.loads(line.removeprefix("RESULT "))


PAGE_JS = r"""
(() => {
  const fo = [...document.querySelectorAll('svg > foreignObject')];
  const assets = fo.filter((el) => el.querySelector('[data-tooltip]') && !el.classList.contains('group')).length;
  const text = document.body ? document.body.innerText : '';
  const svg = fo.length ? fo[0].ownerSVGElement : null;
  const m = svg ? /matrix\(([-\d.e]+)/.exec(svg.parentElement.style.transform || '') : null;
  return {foreign: fo.length, assets, scale: m ? +m[1] : null,
          fetching: text.includes('fetching statuses') || text.includes('Loading'), text: text.slice(0, 400)};
})()
"""

# Dagster's asset graph (AssetGraphExplorer.tsx) draws asset nodes only at zoom >= GROUPS_ONLY_SCALE (0.15), and full
# nodes (names, checks, kinds) at >= MINIMAL_SCALE (0.6); a page first zooms to fit the whole laid-out graph.
GROUPS_ONLY_SCALE = 0.15


def _time_page(browser, url: str, done, timeout: float) -> tuple[float | None, dict]:
    """Seconds from navigation until done(probe), or None after `timeout`."""
    t0 = time.perf_counter()
    browser.navigate(url)
    probe: dict = {}
    while time.perf_counter() - t0 < timeout:
        probe = browser.evaluate(PAGE_JS)
        if done(probe):
            return time.perf_counter() - t0, probe
        time.sleep(0.25)
    return None, probe


def ui_times(env: dict[str, str], timeout: float) -> list[list]:
    """Rows: webserver start -> location loaded; the global lineage with its groups collapsed (the page's
    default) until every group box is drawn with its status; the largest group expanded, and every group
    expanded, until the first view is drawn with its statuses."""
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from urllib.parse import urlencode

    saved = dict(os.environ)
    os.environ.update(env)
    rows = []
    try:
        from test_ui import VIEWPORT
        from webserver import HeadlessChromium, graphql, running_webserver

        t0 = time.perf_counter()
        with running_webserver(startup_timeout=timeout) as base:
            rows.append(["webserver: code location loaded", f"{time.perf_counter() - t0:.1f}", ""])
            nodes = graphql(base, "{ assetNodes { groupName } }", timeout=timeout)["assetNodes"]
            sizes = {g: sum(1 for n in nodes if n["groupName"] == g) for g in {n["groupName"] for n in nodes}}
            largest = max(sizes, key=lambda g: (sizes[g], g))
            browser = HeadlessChromium(*VIEWPORT)
            try:
                browser.before_load("try { localStorage.setItem('asset-graph-direction', JSON.stringify('vertical')); } catch (e) {}")

                # "drawn" = the layout is on the page (dagre runs in a web worker) with every status fetched. A page
                # zooms to fit: a 400-asset group laid out in one rank fits only below GROUPS_ONLY_SCALE, where Dagster
                # draws the group outlines and no asset node (a user zooms in to see them), so a drawn page counts
                # either asset nodes in view or the group outlines at that zoom.
                def laid_out(p: dict) -> bool:
                    if p["fetching"] or p["scale"] is None:
                        return False
                    return p["assets"] > 0 or (p["scale"] < GROUPS_ONLY_SCALE and p["foreign"] > len(sizes))

                def in_view(p: dict) -> str:
                    zoom = p.get("scale")
                    if zoom is None:
                        return f"{p.get('foreign', 0)} boxes, no layout yet"
                    why = f" (< {GROUPS_ONLY_SCALE}: Dagster draws groups only)" if zoom < GROUPS_ONLY_SCALE else ""
                    return f"{p.get('assets', 0)} asset nodes in view at zoom {zoom:.3f}{why}"

                pages = [
                    (
                        f"global lineage, {len(sizes)} groups collapsed (default): layout drawn, statuses still loading",
                        f"{base}/asset-groups",
                        lambda p: p["foreign"] >= len(sizes),
                        lambda p: f"{p.get('foreign', 0)} groups",
                    ),
                    (
                        f"global lineage, {len(sizes)} groups collapsed (default): every status fetched",
                        f"{base}/asset-groups",
                        lambda p: p["foreign"] >= len(sizes) and not p["fetching"],
                        lambda p: f"{p.get('foreign', 0)} groups",
                    ),
                    (
                        f"group '{largest}' expanded ({sizes[largest]} assets)",
                        f"{base}/asset-groups?" + urlencode({"expanded": f"global@global:{largest}"}),
                        laid_out,
                        in_view,
                    ),
                    (
                        f"every group expanded ({len(nodes)} assets)",
                        f"{base}/asset-groups?" + urlencode({"expanded": ",".join(f"global@global:{g}" for g in sizes)}),
                        laid_out,
                        in_view,
                    ),
                ]
                for label, url, done, shown in pages:
                    secs, probe = _time_page(browser, url, done, timeout)
                    rows.append([label, f"{secs:.1f}" if secs is not None else f"not drawn in {timeout:.0f}", shown(probe)])
            finally:
                browser.close()
        return rows
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--no-ui", action="store_true")
    ap.add_argument("--no-plan", action="store_true", help="skip the plan job and the health tick")
    ap.add_argument("--load-runs", type=int, default=5)
    ap.add_argument("--ui-timeout", type=float, default=180.0)
    args = ap.parse_args()
    stack = stack_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    specs = {
        "pipeline.local.yaml (2 tables)": REPO / "pipeline.local.yaml",
        f"generated ({args.tables} tables)": write_scale_spec(args.tables, tmp / "scale.yaml"),
    }
    base_env = {**os.environ, **stack, "CDC_PROFILE": "local", "DAGSTER_HOME": str(tmp)}
    (tmp / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    load_rows, plan_rows, ui_rows = [], [], []
    systems = ["Connect HTTP", "Flink REST", "Flink SQL Gateway", "Postgres SQL", "Kafka requests"]
    for label, path in specs.items():
        env = {**base_env, "CDC_PIPELINE_SPEC": str(path)}
        loads = sorted((fresh(LOAD, env) for _ in range(args.load_runs)), key=lambda r: r["build"] + r["validate"])
        ld = loads[len(loads) // 2]
        load_rows.append(
            [
                label,
                ld["assets"],
                ld["checks"],
                f"{ld['dagster']:.2f}",
                f"{ld['build']:.2f}",
                f"{ld['validate']:.2f}",
                f"{ld['build'] + ld['validate']:.2f}",
                f"{ld['cpu']:.2f}",
            ]
        )
        if not args.no_plan:
            res = fresh(COUNT, env)
            plan_rows.append(
                [
                    label,
                    res["objects"],
                    res["would_change"],
                    f"{res['plan_seconds']:.1f}",
                    *[res["plan"].get(s, 0) for s in systems],
                    res["tick"].get("Connect HTTP", 0),
                    f"{res['tick_seconds']:.2f}",
                ]
            )
        if not args.no_ui:
            ui_rows += [[label, *r] for r in ui_times(env, args.ui_timeout)]
    load_avg = "/".join(f"{x:.1f}" for x in os.getloadavg())
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load avg {load_avg}"
    table(
        f"Definitions load (fresh interpreter, median of {args.load_runs}, s)  [{stamp}]",
        ["spec", "assets", "checks", "import dagster", "build defs", "validate", "ours (build + validate)", "ours, CPU s"],
        load_rows,
    )
    if plan_rows:
        table(
            "Plan job (dry run against the running local stack) and one connector_health tick: requests per system",
            ["spec", "plan objects", "would change", "plan s", *systems, "health tick: Connect requests", "tick s"],
            plan_rows,
        )

    if ui_rows:
        table(
            "Dagster UI (dagster-webserver + headless Chromium on /asset-groups; s from navigation until drawn)",
            ["spec", "page", "seconds", "drawn"],
            ui_rows,
        )
    print(
        "goals: definitions < 3 s at 200 tables; plan requests per system independent of the number of objects; "
        "one Connect request per health tick"
    )


if __name__ == "__main__":
    main()
