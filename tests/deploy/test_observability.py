"""deploy/prometheus and deploy/grafana: the alert rules pass their promtool tests, the
dashboard is well formed, and every query of both names a metric the code exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from sandbox.docker import DockerBackend
from sandbox.metrics import WorkerMetrics
from tests.services import PROMTOOL, ROOT, require

pytestmark = pytest.mark.deploy
DATABASES = ("sqlite",)
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "classroom.json"
METRIC = re.compile(r"\b(up|classroom_[a-z_]+)\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    require("promtool")
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def alert_queries() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def test_alert_rules_pass_their_promtool_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 12 rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Every alert has at least one test that expects it to fire.
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    alerts = {
        r["alert"]
        for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert fired == alerts


def test_prometheus_config_is_valid_and_names_the_jobs_the_rules_use() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    used = set(re.findall(r'job="([^"]+)"', "\n".join(alert_queries())))
    assert used == jobs == {"classroom-server", "classroom-worker"}


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    # promtool parses PromQL in rule files: the dashboard's queries as recording rules.
    rules = [
        {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(dashboard_queries())
    ]
    (tmp_path / "queries.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "d", "rules": rules}]})
    )
    checked = promtool("check", "rules", "queries.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboard_structure_and_provisioning() -> None:
    data = dashboard()
    assert data["uid"] and data["title"] == "OpenCode Classroom"
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = source["datasources"][0]["uid"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "classroom.yml").read_text()
    )
    assert provider["providers"][0]["type"] == "file"
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in data["panels"] if p["type"] == "row"]
    assert rows == ["Classroom activity", "Latency", "Runs", "Grading", "Errors"]
    cells: set[tuple[int, int]] = set()
    for panel in data["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}
        assert panel["datasource"]["uid"] == uid
        refs = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(refs) == len(set(refs)), panel["title"]
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])


async def exported_metrics(app: Starlette) -> set[str]:
    """Family names a server (its /metrics) and a worker (with a Docker backend) export."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        text = (await http.get("/metrics")).text
    worker = WorkerMetrics()
    worker.watch_backend(DockerBackend())
    from prometheus_client import generate_latest

    text += generate_latest(worker.registry).decode()
    return {family.name for family in text_string_to_metric_families(text)} | {"up"}


def family_of(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


async def test_every_query_names_an_exported_metric(app: Starlette) -> None:
    exported = await exported_metrics(app)
    assert "classroom_worker_queue_oldest_seconds" in exported  # the worker's families count
    for source, queries in (("alerts.yml", alert_queries()), ("dashboard", dashboard_queries())):
        for query in queries:
            for name in METRIC.findall(query):
                assert family_of(name) in exported or name in exported, (
                    f"{source}: {name} in {query}"
                )
