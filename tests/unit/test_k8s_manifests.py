"""deploy/k8s renders, validates offline and keeps what operating it needs (infra/k8s_check.py,
which `make lint` runs). The edits below are made to a copy of the manifests on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.k8s_check import RenderError, check, custom_resource_schemas, render, strategic_merge

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


@pytest.fixture(scope="module")
def crds():
    return custom_resource_schemas()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    return copy


def edit(path: Path, kind: str, name: str, change) -> None:
    """Apply `change` to one object of a multi-document file, in place."""
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            change(doc)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("directory", ["base", "overlays/production"])
def test_the_manifests_render_and_pass_every_check(directory, crds):
    count, found = check(K8S / directory, crds)
    assert found == []
    assert count > 30


def test_production_sets_the_namespace_image_and_hostname():
    resources = render(K8S / "overlays" / "production")
    namespaced = [r for r in resources if r["kind"] != "Namespace"]
    assert {r["metadata"]["namespace"] for r in namespaced} == {"outreach"}
    deployments = [r for r in resources if r["kind"] == "Deployment"]
    images = {c["image"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"ghcr.io/example/outreach:1.0.0"}
    hosts = {r["spec"]["rules"][0]["host"] for r in resources if r["kind"] == "Ingress"}
    assert hosts == {"outreach.example.org"}
    config = next(r for r in resources if r["kind"] == "ConfigMap")
    assert config["data"]["PUBLIC_BASE_URL"] == "https://outreach.example.org"
    assert config["data"]["MIGRATE_ON_START"] == "false"  # kept from the base by the merge


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: container(d).pop("readinessProbe"), "api-gateway: no readinessProbe on /readyz"),
        (lambda d: container(d).pop("livenessProbe"), "api-gateway: no livenessProbe on /healthz"),
        (lambda d: container(d)["resources"]["limits"].pop("memory"), "api-gateway: no limits.memory"),
        (lambda d: d["spec"]["template"]["spec"]["initContainers"][0].pop("resources"), "schema: no limits.cpu"),
        (lambda d: d["spec"].update(replicas=1), "fewer than 2 replicas"),
        (lambda d: container(d)["env"].append({"name": "ADMIN_JWT_SECRET", "value": "x"}), "reference a Secret"),
    ],
)  # fmt: skip
def test_a_deployment_that_loses_what_operating_it_needs_fails_the_check(manifests, crds, change, expected):
    edit(manifests / "base" / "api-gateway.yaml", "Deployment", "api-gateway", change)
    _, found = check(manifests / "overlays" / "production", crds)
    assert any(expected in line for line in found), found


def test_losing_an_autoscaler_or_the_standby_fails_the_check(manifests, crds):
    gateway = manifests / "base" / "event-ingest.yaml"
    docs = [
        d for d in yaml.safe_load_all(gateway.read_text()) if d and d["kind"] != "HorizontalPodAutoscaler"
    ]
    gateway.write_text(yaml.safe_dump_all(docs))
    edit(manifests / "base" / "sender.yaml", "Deployment", "sender", lambda d: d["spec"].update(replicas=3))
    _, found = check(manifests / "base", crds)
    assert "event-ingest: no HorizontalPodAutoscaler scales its Deployment" in found
    assert any("Deployment/sender: must run 2 replicas" in line for line in found)


def test_a_field_unknown_to_kubernetes_or_to_an_operator_is_refused(manifests, crds):
    edit(
        manifests / "base" / "sender.yaml",
        "Deployment",
        "sender",
        lambda d: container(d).update(readinesProbe={}),
    )
    edit(
        manifests / "base" / "postgres.yaml",
        "Cluster",
        "outreach-pg",
        lambda d: d["spec"].update(instancess=3),
    )
    edit(manifests / "base" / "rabbitmq.yaml", "RabbitmqCluster", "outreach-rabbitmq",
         lambda d: d["spec"].update(replicas="three"))  # fmt: skip
    _, found = check(manifests / "base", crds)
    assert any("Deployment/sender" in line and "'readinesProbe' was unexpected" in line for line in found)
    assert any(
        "Cluster/outreach-pg: spec" in line and "'instancess' was unexpected" in line for line in found
    )
    assert any(
        "RabbitmqCluster/outreach-rabbitmq: spec.replicas: 'three' is not of type" in line for line in found
    )


def test_a_private_path_on_the_ingress_or_a_secret_in_the_manifests_fails_the_check(manifests, crds):
    def expose_metrics(ingress: dict) -> None:
        paths = ingress["spec"]["rules"][0]["http"]["paths"]
        paths.append({**paths[0], "path": "/metrics"})

    edit(manifests / "base" / "ingress.yaml", "Ingress", "outreach-gateway", expose_metrics)
    with (manifests / "base" / "config.yaml").open("a") as config:
        config.write("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: oops\nstringData:\n  a: b\n")
    _, found = check(manifests / "base", crds)
    assert "Ingress/outreach-gateway: /metrics must not be public" in found
    assert any(line.startswith("Secret/oops") for line in found)


def test_a_kustomization_field_the_check_cannot_render_is_refused(manifests):
    path = manifests / "overlays" / "production" / "kustomization.yaml"
    path.write_text(path.read_text() + "namePrefix: prod-\n")
    with pytest.raises(RenderError, match="namePrefix"):
        render(manifests / "overlays" / "production")


def test_strategic_merge_merges_named_lists_by_name_and_replaces_others():
    base = {
        "containers": [{"name": "a", "image": "x", "args": ["1"]}, {"name": "b", "image": "y"}],
        "keep": 1,
    }
    patch = {"containers": [{"name": "a", "args": ["2"]}, {"name": "c", "image": "z"}]}
    merged = strategic_merge(base, patch)
    assert merged["keep"] == 1
    assert {c["name"]: c for c in merged["containers"]} == {
        "a": {"name": "a", "image": "x", "args": ["2"]},
        "b": {"name": "b", "image": "y"},
        "c": {"name": "c", "image": "z"},
    }
    assert strategic_merge({"x": 1, "y": 2}, {"y": None}) == {"x": 1}
