"""deploy/kubernetes: each overlay renders (kubectl's kustomize) to a complete set of objects,
every object validates strictly against the Kubernetes API schemas (offline), the wiring a
careless edit would break holds, and Checkov finds nothing it was not told about."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.health import routes
from server.settings import Settings
from tests.services import CHECKOV, KUBECTL, KUBERNETES_VALIDATE, ROOT, require

pytestmark = pytest.mark.deploy
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("small", "large")
# The oldest Kubernetes the kit is meant for, and the newest whose schemas are bundled.
VERSIONS = ("1.30.0", "1.37.0")
KINDS = Counter(
    {
        "Namespace": 1,
        "ServiceAccount": 2,
        "ConfigMap": 1,
        "Secret": 2,
        "Service": 2,
        "Deployment": 2,
        "HorizontalPodAutoscaler": 1,
        "PodDisruptionBudget": 2,
        "Ingress": 3,
        "NetworkPolicy": 3,
    }
)
SETTINGS = {"CLASSROOM_" + f.name.upper() for f in fields(Settings)}
Obj = dict[str, Any]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """overlay -> its rendered manifest, from a copy of the kit with the example secrets."""
    require("kubectl")
    work = tmp_path_factory.mktemp("kubernetes")
    tree = work / "kubernetes"
    shutil.copytree(KUSTOMIZE, tree, ignore=shutil.ignore_patterns("secrets"))
    shutil.copytree(tree / "base" / "secrets.example", tree / "base" / "secrets")
    out: dict[str, Path] = {}
    for overlay in OVERLAYS:
        built = run(KUBECTL, "kustomize", tree / "overlays" / overlay)
        assert built.returncode == 0, built.stderr
        assert "deprecated" not in built.stderr.lower(), built.stderr
        out[overlay] = work / f"{overlay}.yaml"
        out[overlay].write_text(built.stdout)
    return out


def objects(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def container(deployment: Obj) -> Obj:
    containers: list[Obj] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def named_port(c: Obj, name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    return int(ports[name])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_a_complete_set(rendered: dict[str, Path], overlay: str) -> None:
    objs = objects(rendered[overlay])
    assert Counter(o["kind"] for o in objs) == KINDS
    for o in objs:
        if o["kind"] != "Namespace":
            assert o["metadata"]["namespace"] == "classroom", o["metadata"]["name"]
        assert o["metadata"]["labels"]["app.kubernetes.io/name"] == "opencode-classroom"
    for deployment in (o for o in objs if o["kind"] == "Deployment"):
        assert container(deployment)["image"] == "opencode-classroom-app:0.1.0"


def test_overlays_differ_where_they_should(rendered: dict[str, Path]) -> None:
    small, large = (objects(rendered[o]) for o in OVERLAYS)
    hpa = [
        one(objs, "HorizontalPodAutoscaler", "classroom-server")["spec"] for objs in (small, large)
    ]
    assert (hpa[0]["minReplicas"], hpa[0]["maxReplicas"]) == (2, 3)
    assert (hpa[1]["minReplicas"], hpa[1]["maxReplicas"]) == (4, 12)
    assert one(large, "PodDisruptionBudget", "classroom-server")["spec"] == {
        "maxUnavailable": 1,
        "selector": one(small, "PodDisruptionBudget", "classroom-server")["spec"]["selector"],
    }


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(
    rendered: dict[str, Path], overlay: str, version: str
) -> None:
    checked = run(KUBERNETES_VALIDATE, "--strict", "-k", version, rendered[overlay])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    passed = re.findall(r"^INFO .* passed for resource (\S+) against", checked.stdout, re.M)
    assert len(passed) == sum(KINDS.values()), checked.stdout


def test_the_validator_rejects_an_unknown_field(rendered: dict[str, Path], tmp_path: Path) -> None:
    objs = objects(rendered["small"])
    deployment = one(objs, "Deployment", "classroom-server")
    container(deployment)["readinesProbe"] = container(deployment)["readinessProbe"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    checked = run(KUBERNETES_VALIDATE, "--strict", "-k", VERSIONS[0], broken)
    assert checked.returncode != 0 and "readinesProbe" in checked.stdout + checked.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ports_and_service_wiring(rendered: dict[str, Path], overlay: str) -> None:
    objs = objects(rendered[overlay])
    server = one(objs, "Deployment", "classroom-server")
    c = container(server)
    port = named_port(c, "http")
    assert "command" not in c  # args only: the image's entrypoint (tini) forwards SIGTERM
    assert int(flag(c["args"], "--port")) == port
    assert flag(c["args"], "--host") == "0.0.0.0"
    endpoints = {getattr(r, "path", None) for r in routes}
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready" in endpoints
    assert c["livenessProbe"]["httpGet"]["path"] == "/health" in endpoints
    assert c["startupProbe"]["httpGet"]["path"] in endpoints
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] == "http"
    template = server["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert template["metadata"]["annotations"]["prometheus.io/path"] in endpoints

    worker = one(objs, "Deployment", "classroom-worker")
    w = container(worker)
    metrics = named_port(w, "metrics")
    assert "command" not in w and w["args"][:3] == ["python", "-m", "sandbox.worker"]
    assert int(flag(w["args"], "--metrics-port")) == metrics
    assert {e["name"]: e.get("value") for e in w["env"]}["CLASSROOM_HOST"] == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        assert w[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(
        metrics
    )

    # Two Services on the server pods: the sockets' own (its consistent hash is kept per Service
    # by ingress-nginx), and the rest's.
    services = {}
    for name in ("classroom-server", "classroom-sockets"):
        service = one(objs, "Service", name)
        selector = service["spec"]["selector"]
        assert selector.items() <= template["metadata"]["labels"].items()
        assert not selector.items() <= worker["spec"]["template"]["metadata"]["labels"].items()
        assert server["spec"]["selector"]["matchLabels"] == selector
        (service_port,) = service["spec"]["ports"]
        assert service_port["targetPort"] == "http"
        services[name] = service_port["name"]

    paths: dict[str, Obj] = {}
    backends: dict[str, str] = {}
    for ingress in (o for o in objs if o["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                backend = p["backend"]["service"]
                assert backend["port"]["name"] == services[backend["name"]]
                paths[p["path"]] = ingress["metadata"].get("annotations", {})
                backends[p["path"]] = backend["name"]
    assert set(paths) == {"/yjs/", "/ws/", "/", "/metrics"}
    assert backends == {
        "/yjs/": "classroom-sockets", "/ws/": "classroom-sockets",
        "/": "classroom-server", "/metrics": "classroom-server",
    }  # fmt: skip
    for socket_path in ("/yjs/", "/ws/"):
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(paths[socket_path][f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
        # The path, not the query: a document's (or a room's) sockets meet on one pod.
        assert paths[socket_path]["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$uri"
    assert "nginx.ingress.kubernetes.io/upstream-hash-by" not in paths["/"]
    assert "nginx.ingress.kubernetes.io/proxy-body-size" in paths["/"]
    denied = paths["/metrics"]["nginx.ingress.kubernetes.io/denylist-source-range"]
    assert set(denied.split(",")) == {"0.0.0.0/0", "::/0"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpa_and_pdbs_target_the_deployments(rendered: dict[str, Path], overlay: str) -> None:
    objs = objects(rendered[overlay])
    deployments = {d["metadata"]["name"]: d for d in objs if d["kind"] == "Deployment"}
    hpa = one(objs, "HorizontalPodAutoscaler", "classroom-server")["spec"]
    target = hpa["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    server = deployments[target["name"]]
    assert hpa["minReplicas"] <= server["spec"]["replicas"] <= hpa["maxReplicas"]
    assert hpa["minReplicas"] >= 2  # a rolling restart always has another process to go to
    assert "cpu" in container(server)["resources"]["requests"]  # Utilization needs requests
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        labels = pdb["spec"]["selector"]["matchLabels"]
        matched = [
            name
            for name, d in deployments.items()
            if labels.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matched == [pdb["metadata"]["name"]]
        # Never a budget that blocks every drain.
        if "minAvailable" in pdb["spec"]:
            assert pdb["spec"]["minAvailable"] < hpa["minReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_environment_is_settings_and_refs_resolve(rendered: dict[str, Path], overlay: str) -> None:
    objs = objects(rendered[overlay])
    config = one(objs, "ConfigMap", "classroom-config")
    secrets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}
    assert set(config["data"]) <= SETTINGS
    assert "CLASSROOM_REDIS_PREFIX" in config["data"]
    for name in ("classroom-server", "classroom-worker"):
        deployment = one(objs, "Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        # Service links would add CLASSROOM_<SERVICE>_PORT=tcp://… variables.
        assert pod["enableServiceLinks"] is False
        assert pod["automountServiceAccountToken"] is False
        c = container(deployment)
        assert [r["configMapRef"]["name"] for r in c["envFrom"]] == [config["metadata"]["name"]]
        environ = {k: str(v) for k, v in config["data"].items()}
        for entry in c["env"]:
            if entry["name"].startswith("CLASSROOM_"):
                assert entry["name"] in SETTINGS, entry["name"]
            if "value" in entry:
                environ[entry["name"]] = entry["value"]
                continue
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["key"] in secrets[ref["name"]]["data"], ref
            environ[entry["name"]] = f"placeholder-{ref['key']}"
        for volume in pod["volumes"]:
            if "secret" in volume:
                secret = secrets[volume["secret"]["secretName"]]
                for item in volume["secret"].get("items", []):
                    assert item["key"] in secret["data"]
        settings = Settings.from_env(environ)  # every value parses
        assert settings.redis_url == "placeholder-redis-url"
        assert settings.sandbox == "docker"  # never a silent fallback to the local backend
    server_env = {e["name"] for e in container(one(objs, "Deployment", "classroom-server"))["env"]}
    assert {"CLASSROOM_SECRET_KEY", "CLASSROOM_DATABASE_URL", "CLASSROOM_ENV"} <= server_env
    worker_env = {e["name"] for e in container(one(objs, "Deployment", "classroom-worker"))["env"]}
    assert not {"CLASSROOM_SECRET_KEY", "CLASSROOM_DATABASE_URL"} & worker_env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grace_periods_outlast_the_shutdown_deadline(
    rendered: dict[str, Path], overlay: str
) -> None:
    objs = objects(rendered[overlay])
    config = one(objs, "ConfigMap", "classroom-config")["data"]
    grace = float(config["CLASSROOM_SHUTDOWN_GRACE_SECONDS"])
    server = one(objs, "Deployment", "classroom-server")
    pre_stop = container(server)["lifecycle"]["preStop"]["exec"]["command"]
    (sleep,) = re.findall(r"sleep\((\d+)\)", " ".join(pre_stop))
    # uvicorn's graceful phase, then the lifespan's deadline for gradings and runs: 2 x grace.
    period = server["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert period > int(sleep) + 2 * grace
    worker = one(objs, "Deployment", "classroom-worker")
    # --drain-seconds defaults to the grace; cancelled runs then get 10 s to be reported.
    assert "--drain-seconds" not in container(worker)["args"]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace + 10


def test_secrets_are_never_committed() -> None:
    ignored = run(
        "git", "check-ignore", "-q", "deploy/kubernetes/base/secrets/secret-key", cwd=ROOT
    )
    assert ignored.returncode == 0, "deploy/kubernetes/base/secrets/ must be in .gitignore"
    tracked = run("git", "ls-files", "deploy/kubernetes/base/secrets", cwd=ROOT)
    assert tracked.stdout == ""
    # Every file the secretGenerator reads has a committed example (the renders above use them).
    kustomization = yaml.safe_load((KUSTOMIZE / "base" / "kustomization.yaml").read_text())
    wanted = {
        "deploy/kubernetes/base/"
        + source.split("=", 1)[1].replace("secrets/", "secrets.example/", 1)
        for generator in kustomization["secretGenerator"]
        for source in generator["files"]
    }
    examples = run("git", "ls-files", "deploy/kubernetes/base/secrets.example", cwd=ROOT)
    assert wanted == set(examples.stdout.split())
    for example in (KUSTOMIZE / "base" / "secrets.example").rglob("*"):
        if example.is_file():
            text = example.read_text()
            assert "EXAMPLE" in text, example
            if example.suffix != ".pem":  # environment values: a newline would end up in them
                assert not text.endswith("\n"), example


def test_checkov_finds_no_failed_check(rendered: dict[str, Path], tmp_path: Path) -> None:
    require("checkov")
    files = [arg for overlay in OVERLAYS for arg in ("-f", str(rendered[overlay]))]
    scan = run(
        CHECKOV, "--framework", "kubernetes", "--skip-download", "--output", "json", *files,
        cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(scan.stdout)
    results = report if isinstance(report, list) else [report]
    (result,) = [r for r in results if r["check_type"] == "kubernetes"]
    failed = [(c["check_id"], c["resource"]) for c in result["results"]["failed_checks"]]
    assert failed == [], failed
    assert scan.returncode == 0, scan.stderr[-2000:]
    assert result["summary"]["passed"] > 300
    # Every skip carries a reason, and the README lists each skipped check.
    readme = (ROOT / "README.md").read_text()
    skipped = {c["check_id"] for c in result["results"]["skipped_checks"]}
    assert skipped == {"CKV_K8S_35", "CKV_K8S_43"}
    for overlay in OVERLAYS:
        for o in objects(rendered[overlay]):
            for key, value in o["metadata"].get("annotations", {}).items():
                if key.startswith("checkov.io/skip"):
                    check, reason = value.split("=", 1)
                    assert check in skipped and len(reason) > 40 and check in readme


def test_prometheus_jobs_are_the_ones_the_alerts_use(rendered: dict[str, Path]) -> None:
    # Not `promtool check config`: Debian builds Prometheus without Kubernetes discovery.
    scrape = yaml.safe_load((KUSTOMIZE / "prometheus-scrape.yml").read_text())
    alerts = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert set(re.findall(r'job="([^"]+)"', alerts)) == set(jobs)
    # Each job keeps the pods of one component, on the port its metrics are served on.
    objs = objects(rendered["small"])
    for job, deployment in (
        ("classroom-server", "classroom-server"),
        ("classroom-worker", "classroom-worker"),
    ):
        pod = one(objs, "Deployment", deployment)["spec"]["template"]
        keep = {
            tuple(r["source_labels"]): r["regex"]
            for r in jobs[job]["relabel_configs"]
            if r.get("action") == "keep"
        }
        component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
        assert keep[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)] == component
        port = keep[("__meta_kubernetes_pod_container_port_name",)]
        assert named_port(container({"spec": {"template": pod}}), port) == int(
            pod["metadata"]["annotations"]["prometheus.io/port"]
        )
