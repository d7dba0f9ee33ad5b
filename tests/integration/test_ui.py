"""The Dagster UI on the real webserver, in a real browser.

A `dagster-webserver -m pipeline_defs` (temporary DAGSTER_HOME, no Kafka/Oracle needed: the webserver
only loads the code) is asked over GraphQL for every asset, asset check, job, sensor and schedule, and
the answer must equal the Definitions object. Then headless Chromium opens the global asset lineage
(`/asset-groups`) with every group expanded, and every asset must be drawn in its group with its kinds
and check count, and every dependency drawn as an edge between the right two nodes. The screenshot is
kept as test-artifacts/ui/asset-graph.png.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from urllib.parse import urlencode

import pytest

from pipeline_defs import defs
from tests.integration.webserver import REPO, HeadlessChromium, graphql, running_webserver

pytestmark = pytest.mark.integration

SCREENSHOT = REPO / "test-artifacts" / "ui" / "asset-graph.png"

# Vertical layout in a 2200x2400 viewport: the UI zooms the graph to fit the width, which keeps it
# above the UI's MINIMAL_SCALE (0.6), so nodes are drawn full size (name, checks, kinds) instead of
# as minimal boxes with names cut to 18 characters; the horizontal default at 1920 px is ~0.35.
VIEWPORT = (2200, 2400)
RENDER_TIMEOUT = 60.0

REPOSITORY_QUERY = """
query {
  repositoriesOrError {
    __typename
    ... on PythonError { message }
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        jobs { name }
        sensors { name defaultStatus }
        schedules { name cronSchedule pipelineName defaultStatus }
        assetNodes {
          assetKey { path }
          groupName
          kinds
          dependencyKeys { path }
          assetChecksOrError {
            __typename
            ... on AssetChecks { checks { name blocking } }
          }
        }
      }
    }
  }
}
"""

# What the asset graph page drew: groups and asset nodes (SVG foreignObjects, in graph coordinates),
# edges (SVG paths with an arrow), and the zoom of the viewport.
PROBE_JS = r"""
(() => {
  const fo = document.querySelector('svg > foreignObject');
  if (!fo) return {ready: false, text: document.body ? document.body.innerText.slice(0, 2000) : ''};
  const svg = fo.ownerSVGElement;
  const box = (el) => ({x: +el.getAttribute('x'), y: +el.getAttribute('y'),
                        w: +el.getAttribute('width'), h: +el.getAttribute('height')});
  const groups = [], nodes = [];
  for (const el of svg.querySelectorAll(':scope > foreignObject')) {
    const tip = el.querySelector('[data-tooltip]');
    if (!tip) continue;  // group outlines
    const item = {...box(el), name: tip.getAttribute('data-tooltip'), label: tip.textContent,
                  text: el.textContent};
    (el.classList.contains('group') ? groups : nodes).push(item);
  }
  const edges = [...svg.querySelectorAll(':scope > path[marker-end]')].map((p) => p.getAttribute('d'));
  const m = /matrix\(([-\d.e]+)/.exec(svg.parentElement.style.transform || '');
  return {ready: true, groups, nodes, edges, scale: m ? +m[1] : null};
})()
"""


def _label(path: list[str] | tuple[str, ...], group: str) -> tuple[str, str]:
    """How a node is identified on the page: its group box and the last part of its key."""
    return (group, path[-1])


@pytest.fixture(scope="module")
def webserver():
    with running_webserver() as base_url:
        yield base_url


@pytest.fixture(scope="module")
def repository(webserver) -> dict:
    data = graphql(webserver, REPOSITORY_QUERY)["repositoriesOrError"]
    assert data["__typename"] == "RepositoryConnection", data
    assert len(data["nodes"]) == 1, [(r["name"], r["location"]["name"]) for r in data["nodes"]]
    return data["nodes"][0]


def test_graphql_shows_exactly_the_definitions(repository):
    graph = defs.resolve_asset_graph()

    # assets: key -> group, kinds, upstream keys
    expected_assets = {
        tuple(key.path): (
            graph.get(key).group_name,
            sorted(graph.get(key).kinds),
            sorted(tuple(p.path) for p in graph.get(key).parent_keys),
        )
        for key in graph.get_all_asset_keys()
    }
    shown_assets = {
        tuple(a["assetKey"]["path"]): (a["groupName"], sorted(a["kinds"]), sorted(tuple(d["path"]) for d in a["dependencyKeys"]))
        for a in repository["assetNodes"]
    }
    assert len(repository["assetNodes"]) == len(shown_assets)
    assert shown_assets == expected_assets

    # asset checks: (asset key, name) -> blocking
    expected_checks = {(tuple(k.asset_key.path), k.name): graph.get_check_spec(k).blocking for k in graph.asset_check_keys}
    shown_checks = {}
    for a in repository["assetNodes"]:
        checks = a["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", (a["assetKey"], checks)
        for c in checks["checks"]:
            shown_checks[(tuple(a["assetKey"]["path"]), c["name"])] = c["blocking"]
    assert shown_checks == expected_checks

    # jobs: the ones defined, plus Dagster's implicit job over all assets (__ASSET_JOB), which the
    # UI hides from the job list but uses to materialize assets from the lineage ("Materialize all")
    assert defs.has_implicit_global_asset_job_def()
    expected_jobs = {j.name for j in defs.jobs} | {defs.resolve_implicit_global_asset_job_def().name}
    assert {j["name"] for j in repository["jobs"]} == expected_jobs
    assert len(repository["jobs"]) == len(expected_jobs)

    assert {s["name"]: s["defaultStatus"] for s in repository["sensors"]} == {s.name: s.default_status.value for s in defs.sensors}
    assert {s["name"]: (s["cronSchedule"], s["pipelineName"], s["defaultStatus"]) for s in repository["schedules"]} == {
        s.name: (s.cron_schedule, s.job_name, s.default_status.value) for s in defs.schedules
    }


def _expected_page():
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.path)
    labels = {tuple(k.path): _label(k.path, graph.get(k).group_name) for k in keys}
    dupes = [lbl for lbl, n in Counter(labels.values()).items() if n > 1]
    assert not dupes, f"assets the page cannot tell apart (same group and last key part): {dupes}"
    checks = Counter(tuple(k.asset_key.path) for k in graph.asset_check_keys)
    nodes = {labels[tuple(k.path)]: {"kinds": sorted(graph.get(k).kinds), "checks": checks[tuple(k.path)]} for k in keys}
    edges = {(labels[tuple(p.path)], labels[tuple(k.path)]) for k in keys for p in graph.get(k).parent_keys}
    groups = sorted({graph.get(k).group_name for k in keys})
    return nodes, edges, groups


def _group_of(node: dict, groups: list[dict]) -> str | None:
    """The innermost group box that holds the node box."""
    inside = [
        g
        for g in groups
        if g["x"] <= node["x"]
        and g["y"] <= node["y"]
        and node["x"] + node["w"] <= g["x"] + g["w"]
        and node["y"] + node["h"] <= g["y"] + g["h"]
    ]
    return min(inside, key=lambda g: g["w"] * g["h"])["name"] if inside else None


def _node_at(x: float, y: float, nodes: dict, slack: float = 10) -> tuple[str, str] | None:
    hits = [
        lbl for lbl, n in nodes.items() if n["x"] - slack <= x <= n["x"] + n["w"] + slack and n["y"] - slack <= y <= n["y"] + n["h"] + slack
    ]
    return hits[0] if len(hits) == 1 else None


def _read_page(probe: dict):
    """{label: node} and {(from label, to label)} as drawn, plus edges that join no two nodes."""
    nodes = {}
    for n in probe["nodes"]:
        nodes[(_group_of(n, probe["groups"]), n["name"])] = n
    edges, loose = set(), []
    for d in probe["edges"]:
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
        ends = (_node_at(nums[0], nums[1], nodes), _node_at(nums[-2], nums[-1], nodes)) if len(nums) >= 4 else None
        if ends and None not in ends:
            edges.add(ends)
        else:
            loose.append(d)
    return nodes, edges, loose


def _middle_truncation_of(label: str, name: str) -> bool:
    if label == name:
        return True
    head, sep, tail = label.partition("…")
    return bool(sep) and name.startswith(head) and name.endswith(tail) and len(label) < len(name)


def test_asset_graph_page_draws_the_whole_lineage(webserver):
    expected_nodes, expected_edges, groups = _expected_page()
    # the UI's group ids, `global@global:<group>` (groupIdForNode, per-location groups flag off)
    url = f"{webserver}/asset-groups?" + urlencode({"expanded": ",".join(f"global@global:{g}" for g in groups)})

    browser = HeadlessChromium(*VIEWPORT)
    try:
        browser.before_load("try { localStorage.setItem('asset-graph-direction', JSON.stringify('vertical')); } catch (e) {}")
        browser.navigate(url)
        deadline = time.monotonic() + RENDER_TIMEOUT
        previous, probe = None, {}
        while time.monotonic() < deadline:
            probe = browser.evaluate(PROBE_JS)
            if probe["ready"]:
                settled = (
                    len(probe["nodes"]) >= len(expected_nodes)
                    and len(probe["edges"]) >= len(expected_edges)
                    and not any("Loading" in n["text"] for n in probe["nodes"])
                )
                if settled and probe == previous:
                    break  # everything drawn, live data in, and nothing moved for a poll
                previous = probe
            time.sleep(1.0)
        browser.screenshot(SCREENSHOT)
        page_errors = list(browser.errors)
    finally:
        browser.close()

    where = f"\n(url {url}; screenshot {SCREENSHOT}; page errors {page_errors[:3]})"
    assert probe.get("ready"), f"no asset graph after {RENDER_TIMEOUT:.0f} s; page text:\n{probe.get('text')}{where}"
    assert probe["scale"] and probe["scale"] >= 0.6, f"graph zoom {probe['scale']}: nodes drawn minimal{where}"

    nodes, edges, loose = _read_page(probe)
    assert sorted(nodes, key=str) == sorted(expected_nodes, key=str), (
        f"asset nodes on the page (group, name) differ from the definitions{where}\n"
        f"missing: {sorted(set(expected_nodes) - set(nodes), key=str)}\n"
        f"unexpected: {sorted(set(nodes) - set(expected_nodes), key=str)}"
    )
    assert len(probe["nodes"]) == len(expected_nodes), f"some asset drawn twice{where}"
    for label, want in expected_nodes.items():
        node = nodes[label]
        assert _middle_truncation_of(node["label"], label[1]), (label, node["label"])
        text = node["text"].lower()
        assert all(kind.lower() in text for kind in want["kinds"]), (label, want["kinds"], node["text"])
        if want["checks"]:
            assert f"0 / {want['checks']} passed" in text, (label, want["checks"], node["text"])

    assert not loose, f"edges that join no two asset nodes: {loose}{where}"
    assert edges == expected_edges, (
        f"lineage edges on the page differ from the definitions{where}\n"
        f"missing: {sorted(expected_edges - edges, key=str)}\nunexpected: {sorted(edges - expected_edges, key=str)}"
    )
    assert len(probe["edges"]) == len(expected_edges), f"some edge drawn twice{where}"
    assert SCREENSHOT.stat().st_size > 50_000, f"screenshot suspiciously small{where}"
