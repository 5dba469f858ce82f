"""docker-compose.yml and deploy/ describe the same processes `rma stack` starts, with commands that run here.

No Docker engine runs on this machine kind, so these files are checked structurally; every command they name is a
`rma` sub-command (or Flower) that the end-to-end tests start for real."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rma.cli.errors import CliError
from rma.cli.services import reuse_port_socket
from rma.cli.stack import stack_specs
from rma.config import Settings
from rma.worker.launch import STAGES

ROOT = Path(__file__).parents[2]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _stack_commands() -> dict[str, list[str]]:
    """The `rma stack` processes by compose service: its extra API processes (api-2, ...) share the one port of
    a host, where compose runs one API container (and k8s two replicas behind a Service)."""
    specs = stack_specs(Settings(flower_password="x"), state_dir=Path("/tmp"), flower=True)  # noqa: S106, S108
    return {re.sub(r"^api-\d+$", "api", spec.name): spec.argv for spec in specs}


def test_the_stack_runs_the_configured_number_of_api_processes() -> None:
    specs = stack_specs(Settings(api_processes=3), state_dir=Path("/tmp"), flower=False)  # noqa: S108
    apis = [spec for spec in specs if spec.name.startswith("api")]
    assert [spec.name for spec in apis] == ["api", "api-2", "api-3"]
    assert all(spec.argv[3:] == ["api"] for spec in apis)


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


def test_api_processes_share_one_port_and_a_foreign_listener_is_refused() -> None:
    first = reuse_port_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = reuse_port_socket("127.0.0.1", port)  # a second `rma api` of the stack
    try:
        assert second.getsockname()[1] == port
        with socket.socket() as foreign:  # a process that did not opt in keeps the port from being shared
            foreign.bind(("127.0.0.1", 0))
            foreign.listen()
            with pytest.raises(CliError, match=r"cannot listen on 127\.0\.0\.1"):
                reuse_port_socket("127.0.0.1", foreign.getsockname()[1])
    finally:
        first.close()
        second.close()
