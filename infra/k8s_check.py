"""`make lint`'s check of deploy/k8s: render each kustomization, validate, apply the house rules.

    python infra/k8s_check.py deploy/k8s/base deploy/k8s/overlays/production

Rendering follows kustomize for the fields our kustomizations use (resources, namespace,
labels, images, patches: strategic merge or JSON 6902, with a target) and refuses any
other field, so nothing is silently left out. Every rendered object is then validated
offline: built-in kinds against the Kubernetes OpenAPI schemas the kubernetes-validate
package ships (strict: an unknown field is an error), for the oldest and the newest
version we support; the operators' custom resources against their CRD schemas vendored
in deploy/k8s/crds (unknown fields refused too: the API server would drop them). Last,
`problems` holds each workload to what operating it needs (probes, resource limits,
disruption budgets, autoscalers, secrets by reference, a default-deny network policy).
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = ROOT / "deploy" / "k8s" / "crds"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # the oldest we support, the newest the package knows
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
}
POD_TEMPLATES = {"Deployment": ("spec", "template", "spec"), "Job": ("spec", "template", "spec")}
AUTOSCALED = ("api-gateway", "event-ingest", "unsubscribe")
STANDBY_PAIRS = ("sender", "projector")  # two replicas: a hot standby (sender) or a second consumer
SECRET_VARIABLES = re.compile(r"(SECRET|PASSWORD|HASH_KEY|_KEY_ID|ACCESS_KEY)")
PRIVATE_PATHS = ("/metrics", "/healthz", "/readyz", "/internal")

Resource = dict[str, Any]


class RenderError(ValueError):
    pass


# Rendering ---------------------------------------------------------------------------


def render(directory: Path) -> list[Resource]:
    """The objects `kustomize build directory` would give, for the fields we use."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text()) or {}
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    if unknown:
        raise RenderError(f"{directory}: kustomization fields this check does not render: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources.extend(render(path) if path.is_dir() else _load(path))
    for patch in kustomization.get("patches", []):
        _apply_patch(directory, patch, resources)
    if namespace := kustomization.get("namespace"):
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    for label in kustomization.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise RenderError(f"{directory}: labels into selectors or templates are not rendered here")
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(label["pairs"])
    for image in kustomization.get("images", []):
        for container in _containers(resources):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', 'latest')}"
    return resources


def _load(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _apply_patch(directory: Path, patch: dict[str, Any], resources: list[Resource]) -> None:
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    for body in yaml.safe_load_all(text):
        if body:
            _apply_one(directory, body, patch.get("target"), resources)


def _apply_one(directory: Path, body: Any, target: dict[str, str] | None, resources: list[Resource]) -> None:
    if target is None:
        if not isinstance(body, dict):
            raise RenderError(f"{directory}: a JSON 6902 patch needs a target")
        target = {"kind": body["kind"], "name": body["metadata"]["name"]}
    matched = [r for r in resources if _matches(r, target)]
    if not matched:
        raise RenderError(f"{directory}: patch target {target} matches nothing")
    for resource in matched:
        if isinstance(body, list):
            for operation in body:
                _json6902(resource, operation)
        else:
            merged = strategic_merge(resource, body)
            resource.clear()
            resource.update(merged)


def _matches(resource: Resource, target: dict[str, str]) -> bool:
    if "kind" in target and resource["kind"] != target["kind"]:
        return False
    return "name" not in target or re.fullmatch(target["name"], resource["metadata"]["name"]) is not None


def strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge key by key; lists of named maps (containers, env, ports, volumes) merge
    by name; any other list is replaced, as in Kubernetes' strategic merge patch."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        by_name = {item["name"]: item for item in base}
        merged_list = [
            strategic_merge(by_name[item["name"]], item) if item["name"] in by_name else item
            for item in patch
        ]
        patched = {item["name"] for item in patch}
        return [item for item in base if item["name"] not in patched] + merged_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _json6902(resource: Resource, operation: dict[str, Any]) -> None:
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]]
    node: Any = resource
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    op = operation["op"]
    if op in ("add", "replace"):
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            node[index : index + (op == "replace")] = [operation["value"]]
        else:
            if op == "replace" and last not in node:
                raise RenderError(f"replace {operation['path']}: nothing there")
            node[last] = operation["value"]
    elif op == "remove":
        del node[int(last) if isinstance(node, list) else last]
    else:
        raise RenderError(f"JSON 6902 operation {op!r} is not rendered here")


def _pod_spec(resource: Resource) -> dict[str, Any] | None:
    path = POD_TEMPLATES.get(resource["kind"])
    if path is None:
        return None
    node = resource
    for key in path:
        node = node[key]
    return node


def _containers(resources: Iterable[Resource], *, init: bool = True) -> Iterator[dict[str, Any]]:
    for resource in resources:
        if (spec := _pod_spec(resource)) is not None:
            yield from spec.get("containers", [])
            if init:
                yield from spec.get("initContainers", [])


# Validation --------------------------------------------------------------------------


def custom_resource_schemas(directory: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the CRD's schema for that version, made strict."""
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        for crd in _load(path):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _strict(schema: Any) -> Any:
    """Unknown fields refused wherever the schema names its fields and keeps no others."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in schema
    if "properties" in schema and not keeps_unknown:
        strict["additionalProperties"] = False
    return strict


def validation_errors(resources: list[Resource], crds: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    errors = []
    for resource in resources:
        where = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
        schema = crds.get((resource.get("apiVersion", ""), resource.get("kind", "")))
        if schema is not None:
            for error in jsonschema.Draft7Validator(schema).iter_errors(resource):
                errors.append(
                    f"{where}: {'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
                )
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(
                    f"{where} (Kubernetes {version}): {'.'.join(map(str, exc.path))}: {exc.message}"
                )
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{where}: no schema for {resource.get('apiVersion')} {resource.get('kind')}")
                break
    return errors


# The house rules ---------------------------------------------------------------------


def problems(resources: list[Resource]) -> list[str]:
    """What an operator would miss in production, one line each."""
    found: list[str] = []
    by_kind: dict[str, dict[str, Resource]] = {}
    for resource in resources:
        by_kind.setdefault(resource["kind"], {})[resource["metadata"]["name"]] = resource
    deployments = by_kind.get("Deployment", {})
    for name, deployment in deployments.items():
        found += _workload_problems(f"Deployment/{name}", deployment)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if deployment["spec"].get("replicas", 1) < 2:
            found.append(f"Deployment/{name}: fewer than 2 replicas (no failover)")
        if not any(
            _selects(pdb["spec"]["selector"], labels)
            for pdb in by_kind.get("PodDisruptionBudget", {}).values()
        ):
            found.append(f"Deployment/{name}: no PodDisruptionBudget selects its pods")
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            found += _probe_problems(f"Deployment/{name}/{container['name']}", container)
    for name in AUTOSCALED:
        autoscaler = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
        if autoscaler is None or autoscaler["spec"]["scaleTargetRef"]["name"] not in deployments:
            found.append(f"{name}: no HorizontalPodAutoscaler scales its Deployment")
    for name in STANDBY_PAIRS:
        if name in deployments and deployments[name]["spec"].get("replicas") != 2:
            found.append(f"Deployment/{name}: must run 2 replicas (one active consumer and a standby)")
    for name, job in by_kind.get("Job", {}).items():
        found += _workload_problems(f"Job/{name}", job)
    if "Secret" in by_kind:
        found.append(
            f"Secret/{', '.join(by_kind['Secret'])}: secrets are referenced, never kept in the manifests"
        )
    if not any(_denies_all_ingress(p) for p in by_kind.get("NetworkPolicy", {}).values()):
        found.append("NetworkPolicy: no default deny of ingress")
    services = by_kind.get("Service", {})
    for name, ingress in by_kind.get("Ingress", {}).items():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]["name"]
                if backend not in services:
                    found.append(f"Ingress/{name}: {path['path']} goes to {backend}, which is no Service")
                if path["path"].startswith(PRIVATE_PATHS):
                    found.append(f"Ingress/{name}: {path['path']} must not be public")
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
    for name, service in services.items():
        if not any(_selects({"matchLabels": service["spec"]["selector"]}, labels) for labels in pod_labels):
            found.append(f"Service/{name}: selects no Deployment's pods")
    return found


def _workload_problems(where: str, workload: Resource) -> list[str]:
    found = []
    spec = _pod_spec(workload)
    assert spec is not None
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        found.append(f"{where}: pods may run as root (securityContext.runAsNonRoot)")
    for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            for quantity in ("cpu", "memory"):
                if quantity not in resources.get(bound, {}):
                    found.append(f"{where}/{container['name']}: no {bound}.{quantity}")
        for variable in container.get("env", []):
            if SECRET_VARIABLES.search(variable["name"]) and "value" in variable:
                found.append(
                    f"{where}/{container['name']}: {variable['name']} written in; reference a Secret"
                )
    return found


def _probe_problems(where: str, container: dict[str, Any]) -> list[str]:
    found = []
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        if container.get(probe, {}).get("httpGet", {}).get("path") != path:
            found.append(f"{where}: no {probe} on {path}")
    return found


def _denies_all_ingress(policy: Resource) -> bool:
    spec = policy["spec"]
    return spec["podSelector"] == {} and "Ingress" in spec["policyTypes"] and not spec.get("ingress")


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def check(directory: Path, crds: dict[tuple[str, str], dict[str, Any]]) -> tuple[int, list[str]]:
    """(objects rendered, every error and problem)."""
    try:
        resources = render(directory)
    except (RenderError, OSError, KeyError, yaml.YAMLError) as exc:
        return 0, [f"{directory}: cannot render: {exc}"]
    return len(resources), validation_errors(resources, crds) + problems(resources)


def main(arguments: list[str]) -> int:
    crds = custom_resource_schemas()
    failed = False
    for argument in arguments:
        count, found = check(Path(argument), crds)
        for line in found:
            print(f"{argument}: {line}", file=sys.stderr)
        failed = failed or bool(found)
        if not found:
            print(
                f"{argument}: {count} objects rendered, valid for Kubernetes {' and '.join(KUBERNETES_VERSIONS)}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
