"""Write deploy/k8s/*.yaml from the stage table in rma.worker.launch, so manifests and code never drift.

`uv run python scripts/render_k8s.py` rewrites them; `--check` fails if the committed files differ (a test runs it).
Workers scale on their queue's length with KEDA's Redis list trigger; beat stays a single replica.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from rma.worker.launch import STAGES

OUT = Path(__file__).parents[1] / "deploy" / "k8s"
IMAGE = "registry.example.com/rma:latest"
LABELS = {"app.kubernetes.io/part-of": "rma"}
ENV_FROM = [{"configMapRef": {"name": "rma-config"}}, {"secretRef": {"name": "rma-secrets"}}]
# Per stage: (min replicas, max replicas, messages per replica before scaling out).
SCALING = {
    "intake": (1, 10, 200),
    "issuance": (1, 10, 200),
    "labels": (1, 20, 100),
    "tracking": (1, 10, 50),
    "inspection": (1, 5, 200),
    "refunds": (1, 10, 100),
    "notify": (1, 20, 300),
    "maintenance": (1, 2, 500),
}


# Labels and packing slips live in a file store shared by the processes that write and serve them (the label stage
# and the API): a ReadWriteMany volume (NFS, EFS, Azure Files, CephFS ...).
DOCUMENTS_DIR = "/var/lib/rma/documents"
DOCUMENT_USERS = frozenset({"api", "worker-labels"})


def _documents_claim() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "rma-documents", "labels": LABELS},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "50Gi"}}},
    }


def _deployment(
    name: str,
    args: list[str],
    *,
    replicas: int = 1,
    recreate: bool = False,
    **container: Any,  # noqa: ANN401 - container fields are free-form manifest values
) -> dict[str, Any]:
    labels = {**LABELS, "app.kubernetes.io/name": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                # SIGTERM is Celery's warm shutdown; give running tasks time to finish (hard limit 120 s).
                "terminationGracePeriodSeconds": 150,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                "containers": [
                    {
                        "name": name,
                        "image": IMAGE,
                        "args": args,
                        "envFrom": ENV_FROM,
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                        **container,
                    }
                ],
            },
        },
    }
    if name in DOCUMENT_USERS:
        pod = spec["template"]["spec"]
        pod["containers"][0]["volumeMounts"] = [{"name": "documents", "mountPath": DOCUMENTS_DIR}]
        pod["volumes"] = [{"name": "documents", "persistentVolumeClaim": {"claimName": "rma-documents"}}]
    if recreate:
        spec["strategy"] = {"type": "Recreate"}  # never two at once, even during a rollout
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels}, "spec": spec}


def _service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": LABELS},
        "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": port, "targetPort": port}]},
    }


def _scaled_object(stage: str) -> dict[str, Any]:
    low, high, per_replica = SCALING[stage]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"worker-{stage}", "labels": LABELS},
        "spec": {
            "scaleTargetRef": {"name": f"worker-{stage}"},
            "minReplicaCount": low,
            "maxReplicaCount": high,
            "triggers": [
                {
                    "type": "redis",
                    "metadata": {
                        "addressFromEnv": "RMA_REDIS_ADDRESS",
                        "listName": STAGES[stage].queue.value,
                        "listLength": str(per_replica),
                    },
                }
            ],
        },
    }


def render() -> dict[str, list[dict[str, Any]]]:
    probe = {"httpGet": {"path": "/readyz", "port": 8000}, "periodSeconds": 10}
    return {
        "migrate.yaml": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "rma-migrate", "labels": LABELS},
                "spec": {
                    "backoffLimit": 3,
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [
                                {"name": "migrate", "image": IMAGE, "args": ["db", "upgrade"], "envFrom": ENV_FROM}
                            ],
                        }
                    },
                },
            }
        ],
        "api.yaml": [
            _deployment(
                "api",
                ["api", "--host", "0.0.0.0", "--port", "8000"],  # noqa: S104 - inside the pod
                replicas=2,
                ports=[{"containerPort": 8000}],
                readinessProbe=probe,
                livenessProbe={"httpGet": {"path": "/healthz", "port": 8000}, "periodSeconds": 10},
            ),
            _service("api", 8000),
        ],
        "workers.yaml": [
            doc
            for stage in STAGES
            for doc in (_deployment(f"worker-{stage}", ["worker", stage]), _scaled_object(stage))
        ],
        "documents.yaml": [_documents_claim()],
        "beat.yaml": [_deployment("beat", ["beat", "--schedule", "/tmp/celerybeat-schedule"], recreate=True)],  # noqa: S108
        "relay.yaml": [_deployment("relay", ["relay"], replicas=2)],
        "flower.yaml": [
            _deployment(
                "flower",
                [],
                command=["celery", "--app", "rma.worker.celery_app", "flower", "--port=5555", "--address=0.0.0.0"],
                ports=[{"containerPort": 5555}],
            ),
            _service("flower", 5555),
        ],
    }


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002, ANN401 - readable manifests: no &anchors
        return True


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name, docs in render().items():
        text = "# Generated by scripts/render_k8s.py from rma.worker.launch.STAGES: edit the script, not this file.\n"
        text += yaml.dump_all(docs, Dumper=_PlainDumper, sort_keys=False)
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        sys.stderr.write(f"deploy/k8s is out of date ({', '.join(stale)}): run scripts/render_k8s.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
