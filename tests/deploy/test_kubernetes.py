"""deploy/kubernetes, rendered as `kubectl apply -k` would (the namespace and image tags of its
kustomization applied) and validated: every Kubernetes object against the API's own schemas
(kubernetes-validate, strict: unknown fields fail), KEDA's ScaledObject against the fields
its documentation gives, and the wiring between them: each `ferry` command and flag exists,
Services select a Deployment and name its ports, every Secret key used is a documented one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).parents[2] / "deploy" / "kubernetes"
KUBERNETES = "1.30.0"
SECRET_KEYS = {
    "ferry-shared": {
        "database-url",
        "signing-key.pem",
        "ca.pem",
        "ca.key",
        "accounts",
        "queue-connection",
        "identity-header",
    },
    "ferry-models": set(),
}
"""The Secrets docs/deploy.md tells operators to create, with their keys."""

Json = dict[str, Any]


def render() -> list[Json]:
    """The objects of the kustomization, with its namespace and image tags applied."""
    kustomization = yaml.safe_load((ROOT / "kustomization.yaml").read_text())
    tags = {image["name"]: image["newTag"] for image in kustomization.get("images", [])}
    objects: list[Json] = []
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((ROOT / resource).read_text()):
            if document["kind"] != "Namespace":
                document["metadata"]["namespace"] = kustomization["namespace"]
            for container in _containers(document):
                if container["image"] in tags:
                    container["image"] = f"{container['image']}:{tags[container['image']]}"
            objects.append(document)
    return objects


def _containers(document: Json) -> list[Json]:
    if document["kind"] != "Deployment":
        return []
    spec = document["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


OBJECTS = render()
NAMES = [f"{o['kind']}/{o['metadata']['name']}" for o in OBJECTS]


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((ROOT / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in ROOT.glob("*.yaml")} - {"kustomization.yaml"}
    kinds = {o["kind"] for o in OBJECTS}
    assert {"Namespace", "Deployment", "Service", "Ingress", "ScaledObject"} <= kinds


@pytest.mark.parametrize("document", OBJECTS, ids=NAMES)
def test_each_object_is_valid(document: Json) -> None:
    if document["apiVersion"].startswith("keda.sh/"):
        schema = json.loads((Path(__file__).parent / "scaledobject.schema.json").read_text())
        jsonschema.validate(document, schema)
    else:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_a_misspelt_field_is_caught() -> None:
    """The validation is not a formality: one wrong key fails it."""
    broken = json.loads(json.dumps(OBJECTS[1]))
    broken["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


@cache
def _help(command: tuple[str, ...]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ferry", *command, "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, (command, result.stderr)
    return result.stdout


def test_every_ferry_command_and_flag_exists() -> None:
    checked = 0
    for document in OBJECTS:
        for container in _containers(document):
            if "command" in container:  # a shell step, not a ferry command
                continue
            args = [str(a) for a in container["args"]]
            words = [a for a in args if not a.startswith("-")]
            command = tuple(words[:2] if words[0] == "serve" else words[:1])
            text = _help(command)
            for flag in (a for a in args if a.startswith("--")):
                assert flag in text, (document["metadata"]["name"], command, flag)
                checked += 1
    assert checked >= 15


def test_services_select_a_deployment_and_name_its_ports() -> None:
    deployments = [o for o in OBJECTS if o["kind"] == "Deployment"]
    for service in (o for o in OBJECTS if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        [target] = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        ports = {p["name"] for c in _containers(target) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_secret_keys_and_scaler_wiring() -> None:
    for document in OBJECTS:
        for container in _containers(document):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in SECRET_KEYS[ref["name"]], ref
            for source in container.get("envFrom", []):
                assert source["secretRef"]["name"] in SECRET_KEYS
        if document["kind"] == "Deployment":
            for volume in document["spec"]["template"]["spec"].get("volumes", []):
                if "secret" in volume:
                    assert volume["secret"]["secretName"] in SECRET_KEYS
    for scaled in (o for o in OBJECTS if o["kind"] == "ScaledObject"):
        [target] = [
            o
            for o in OBJECTS
            if o["kind"] == "Deployment"
            and o["metadata"]["name"] == scaled["spec"]["scaleTargetRef"]["name"]
        ]
        variables = {v["name"] for c in _containers(target) for v in c.get("env", [])}
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["metadata"]["connectionFromEnv"] in variables
