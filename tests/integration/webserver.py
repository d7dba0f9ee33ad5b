"""Helpers for the UI test: a real `dagster-webserver` on the project and a headless Chromium.

`running_webserver` starts `.venv/bin/dagster-webserver -m pipeline_defs` on 127.0.0.1 and a free port
with a throwaway DAGSTER_HOME (telemetry and the community pop-up off), waits for `/server_info` and
for the code location to load, and stops the whole process group (webserver and its code server) at
the end. `HeadlessChromium` drives Debian's /usr/bin/chromium over the DevTools protocol, with the
`websockets` client that dagster-webserver already installs (uvicorn[standard]); no browser download.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def stop_process_group(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process group `proc` leads, then SIGKILL whatever is left after `timeout`."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait(timeout=10)


def graphql(base_url: str, query: str, timeout: float = 60.0) -> dict:
    resp = httpx.post(f"{base_url}/graphql", json={"query": query}, timeout=timeout)
    resp.raise_for_status()
    body = resp.json()
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {json.dumps(body['errors'], indent=1)[:4000]}")
    return body["data"]


LOCATIONS_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


@contextlib.contextmanager
def running_webserver(startup_timeout: float = 120.0) -> Iterator[str]:
    """Yields the base URL of a dagster-webserver serving `-m pipeline_defs` with its location loaded."""
    if not WEBSERVER.exists():
        raise AssertionError(f"{WEBSERVER} not found: run scripts/bootstrap to create .venv")
    tmp = Path(tempfile.mkdtemp(prefix="dagster-ui-test-"))
    home = tmp / "home"
    home.mkdir()
    # nux: the "Join the Dagster community" dialog would cover the page
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    log = tmp / "webserver.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(WEBSERVER), "-m", "pipeline_defs", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the code server it spawns goes with it
        )
    try:
        deadline = time.monotonic() + startup_timeout
        last = "no answer yet"
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"dagster-webserver exited with {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"dagster-webserver not ready after {startup_timeout:.0f} s ({last}):\n{_tail(log)}")
            try:
                if httpx.get(f"{base_url}/server_info", timeout=5).status_code == 200:
                    ws = graphql(base_url, LOCATIONS_QUERY)["workspaceOrError"]
                    entries = ws.get("locationEntries") or []
                    if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                        errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                        if errors:
                            raise AssertionError(f"code location failed to load: {json.dumps(errors, indent=1)}")
                        break
                    last = f"workspace: {json.dumps(ws)[:300]}"
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.5)
        yield base_url
    finally:
        stop_process_group(proc)
        shutil.rmtree(tmp, ignore_errors=True)


class HeadlessChromium:
    """One headless Chromium with a fresh profile and one page, driven over the DevTools protocol."""

    def __init__(self, width: int, height: int, startup_timeout: float = 60.0):
        from websockets.sync.client import connect

        exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
        if exe is None:
            raise AssertionError(
                "chromium not found on PATH: the UI test needs Debian's `chromium` package "
                "(scripts/bootstrap installs it: apt-get install chromium)"
            )
        self.width, self.height = width, height
        # everything Chromium writes stays under one private directory: the profile, and (through
        # XDG_CONFIG_HOME) the crash-report database its crashpad handlers use, which names them
        self.tmp = Path(tempfile.mkdtemp(prefix="chromium-ui-test-"))
        self.profile = self.tmp / "profile"
        self.log = self.tmp / "chromium.log"
        env = {**os.environ, "XDG_CONFIG_HOME": str(self.tmp / "config"), "XDG_CACHE_HOME": str(self.tmp / "cache")}
        self.errors: list[str] = []  # uncaught page exceptions, for failure messages
        self._id = 0
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    exe,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    f"--user-data-dir={self.profile}",
                    f"--window-size={width},{height}",
                    "--remote-debugging-port=0",
                    "about:blank",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        try:
            port_file = self.profile / "DevToolsActivePort"
            deadline = time.monotonic() + startup_timeout
            while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
                if self.proc.poll() is not None:
                    raise AssertionError(f"chromium exited with {self.proc.returncode}:\n{_tail(self.log)}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"chromium gave no DevTools port in {startup_timeout:.0f} s:\n{_tail(self.log)}")
                time.sleep(0.1)
            port, path = port_file.read_text().split()[:2]
            self.ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=2**28, open_timeout=30).__enter__()
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for method in ("Page.enable", "Runtime.enable"):
                self.send(method, session=self.session)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=self.session,
            )
        except BaseException:
            self.close()
            raise

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60.0) -> dict:
        self._id += 1
        msg: dict = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise AssertionError(f"DevTools {method}: {reply['error']}")
                return reply["result"]
            if reply.get("method") == "Runtime.exceptionThrown" and len(self.errors) < 20:
                details = reply["params"]["exceptionDetails"]
                self.errors.append(details.get("exception", {}).get("description") or details.get("text", ""))

    def page(self, method: str, params: dict | None = None) -> dict:
        return self.send(method, params, session=self.session)

    def before_load(self, script: str) -> None:
        """Runs `script` in every document of the page before the page's own scripts."""
        self.page("Page.addScriptToEvaluateOnNewDocument", {"source": script})

    def navigate(self, url: str) -> None:
        result = self.page("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise AssertionError(f"navigating to {url}: {result['errorText']}")

    def evaluate(self, expression: str):
        result = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.page("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        # Browser.close lets Chromium shut down and reap its own children; the group kill is the backstop
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=10)
        with contextlib.suppress(Exception):
            self.ws.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        stop_process_group(self.proc, timeout=10)
        # crashpad handlers leave the process group (setsid); they exit with the browser, and any
        # that has not is ended by pid: those whose command line names this browser's directory
        deadline = time.monotonic() + 5
        while (left := self._own_detached_pids()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _own_detached_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if str(self.tmp).encode() in cmdline and state != "Z":
                pids.append(int(entry.name))
        return pids
