"""docker-compose.yml and deploy/ describe the same processes `rma stack` starts, with commands that run here.

No Docker engine runs on this machine kind, so these files are checked structurally; every command they name is a
`rma` sub-command (or Flower) that the end-to-end tests start for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from rma.cli.stack import stack_specs
from rma.config import Settings
from rma.worker.launch import STAGES

ROOT = Path(__file__).parents[2]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _stack_commands() -> dict[str, list[str]]:
    specs = stack_specs(Settings(flower_password="x"), state_dir=Path("/tmp"), flower=True)  # noqa: S106, S108
    return {spec.name: spec.argv for spec in specs}


def test_compose_runs_every_stack_process_from_one_image() -> None:
    services = _compose()["services"]
    stack = _stack_commands()
    assert set(stack) <= set(services), set(stack) - set(services)
    for name, argv in stack.items():
        service = services[name]
        assert service["image"] == "rma:latest"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        if name == "flower":
            assert service["entrypoint"][:4] == ["celery", "--app", "rma.worker.celery_app", "flower"]
            assert "FLOWER_BASIC_AUTH" in service["environment"]
            continue
        subcommand = argv[3:]  # after `python -m rma.cli.main`
        assert service["command"][: len(subcommand[:2])] == subcommand[:2], name
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["beat"]["deploy"]["replicas"] == 1
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]


def test_compose_keeps_secrets_out_of_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "RMA_API_KEYS", "RMA_FLOWER_PASSWORD"):
        assert f"${{{secret}:?" in text  # required from the environment, no default


def test_dockerfile_installs_the_locked_project_and_runs_as_a_user() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "uv sync --locked --no-dev" in text
    assert "COPY pyproject.toml uv.lock" in text
    assert "USER rma" in text
    assert 'ENTRYPOINT ["rma"]' in text


def test_kubernetes_manifests_match_the_stage_table_and_are_current() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_k8s.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    docs = [
        doc for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
    ]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    scaled = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    for stage, spec in STAGES.items():
        container = deployments[f"worker-{stage}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["worker", stage]
        trigger = scaled[f"worker-{stage}"]["spec"]["triggers"][0]
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["listName"] == spec.queue.value
    beat = deployments["beat"]["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"] == {"type": "Recreate"}
    assert {"ConfigMap", "Job", "Service"} <= {d["kind"] for d in docs}
