"""The Kubernetes example (deploy/kubernetes/) parses and holds together.

There is no well-kept offline validator in the lock (kubeconform and kubectl are Go
binaries), so this checks, with pyyaml, the fields the deployment depends on: the three
kinds of Deployment, their commands, the workers' grace period above the job timeout, and
KEDA's ScaledObject on RQ's `content` list aimed at the worker Deployment.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

KUBE = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"


def documents() -> dict[tuple[str, str], dict]:
    found = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["apiVersion"] and doc["metadata"]["name"], path
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def container(deployment: dict) -> dict:
    spec = deployment["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    (only,) = spec["template"]["spec"]["containers"]
    assert {"secretRef": {"name": "drb-env"}} in only["envFrom"]
    return only


def test_web_workers_and_scheduler_deployments():
    docs = documents()
    web = container(docs[("Deployment", "drb-web")])
    assert web["command"][0] == "gunicorn" and web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = container(docs[("Deployment", "drb-worker")])
    assert worker["command"][:4] == ["python", "manage.py", "rqworker", "content"]
    assert "--with-scheduler" in worker["command"]
    email = container(docs[("Deployment", "drb-email-worker")])
    assert email["command"][3:5] == ["email", "default"] and "--with-scheduler" in email["command"]
    scheduler = docs[("Deployment", "drb-scheduler")]
    assert container(scheduler)["command"] == ["python", "manage.py", "rqscheduler"]
    assert scheduler["spec"]["replicas"] == 1
    assert docs[("Service", "drb-web")]["spec"]["selector"]["app.kubernetes.io/component"] == "web"


def test_workers_drain_gracefully_past_the_job_timeout():
    deployment = documents()[("Deployment", "drb-worker")]
    env = {e["name"]: e["value"] for e in container(deployment)["env"]}
    timeout = int(env.get("GENERATION_JOB_TIMEOUT", settings.GENERATION_JOB_TIMEOUT))
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > timeout


def test_keda_scales_the_workers_on_the_content_list():
    scaled = documents()[("ScaledObject", "drb-worker")]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "drb-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1  # the workers' RQ scheduler and reaper
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] in ("redis", "redis-sentinel")
    assert trigger["metadata"]["listName"] == "rq:queue:content"
    assert int(trigger["metadata"]["listLength"]) >= 1
