"""The app's writable paths (load_harness/writable.py, read as a literal: no import of the app) are each a
writable mount wherever the image runs on a read-only root: the hardened compose services and the Deployment.
The Dockerfile's runtime ENV must put each directory where the list says; a service's or container's own
environment may move it, and then the mount must follow."""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

import yaml

from fleet.validate.container_compose import APP_DOCKERFILE, ComposeError, Mount, hardened_app_services
from fleet.validate.container_dockerfile import env_of, parse_stages, stage_chain

WRITABLE_MODULE = Path("applications/load-harness/src/load_harness/writable.py")
LIST_NAME = "WRITABLE_PATHS"
DEPLOYMENT_FILE = Path("k8s/applications/base/load-harness/deployment.yaml")
CONTAINER_NAME = "load-harness"
WRITABLE_VOLUME_KINDS = ("emptyDir", "persistentVolumeClaim", "ephemeral")


def read_writable_paths(root: Path) -> tuple[dict[str, str], list[str]]:
    """variable -> path in the image, from the module's `WRITABLE_PATHS = {...}` literal; and problems."""
    path = root / WRITABLE_MODULE
    if not path.is_file():
        return {}, [f"{WRITABLE_MODULE}: missing (the app's one list of the paths it writes)"]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        target: ast.expr
        value_node: ast.expr | None
        if isinstance(node, ast.AnnAssign):
            target, value_node = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value_node = node.targets[0], node.value
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id == LIST_NAME and value_node is not None):
            continue
        try:
            value = ast.literal_eval(value_node)
        except ValueError:
            return {}, [f"{WRITABLE_MODULE}: {LIST_NAME} must be a literal dict"]
        if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
            return {str(k): str(v) for k, v in value.items()}, []
        return {}, [f"{WRITABLE_MODULE}: {LIST_NAME} must be a non-empty dict of variable -> absolute path"]
    return {}, [f"{WRITABLE_MODULE}: no {LIST_NAME}"]


def covered(path: PurePosixPath, mounts: list[Mount]) -> Mount | None:
    """A writable mount at the path or above it."""
    for mount in mounts:
        if (
            not mount.read_only
            and mount.kind in ("tmpfs", "volume")
            and (mount.target == path or mount.target in path.parents)
        ):
            return mount
    return None


def resolve(paths: dict[str, str], env: dict[str, str]) -> dict[str, PurePosixPath]:
    return {name: PurePosixPath(env.get(name) or default) for name, default in paths.items()}


def _dockerfile_findings(root: Path, paths: dict[str, str]) -> list[str]:
    dockerfile = root / APP_DOCKERFILE
    if not dockerfile.is_file():
        return [f"{APP_DOCKERFILE}: missing"]
    stages = parse_stages(dockerfile.read_text(encoding="utf-8"))
    if not stages:
        return [f"{APP_DOCKERFILE}: no stages"]
    image_env = env_of(stage_chain(stages, stages[-1]))
    return [
        f"{APP_DOCKERFILE}: the runtime stage sets {name}={image_env[name]}, but {WRITABLE_MODULE} says {path}"
        for name, path in paths.items()
        if name in image_env and image_env[name] != path
    ]


def _compose_findings(root: Path, paths: dict[str, str]) -> tuple[list[str], int]:
    try:
        services = hardened_app_services(root)
    except ComposeError as exc:
        return [str(exc)], 0
    errors: list[str] = []
    for service in services:
        for name, path in resolve(paths, service.environment()).items():
            if covered(path, service.mounts()) is None:
                errors.append(f"compose.yaml: service {service.name!r}: {name} {path} is not a tmpfs or volume mount")
    return errors, len(services) * len(paths)


def _dicts(value: object) -> list[dict[str, object]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _deployment_container(root: Path) -> tuple[dict[str, object] | None, dict[str, object], str | None]:
    """The app container, the pod spec, or the reason neither was found."""
    path = root / DEPLOYMENT_FILE
    if not path.is_file():
        return None, {}, f"{DEPLOYMENT_FILE}: missing"
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        return None, {}, f"{DEPLOYMENT_FILE}: cannot parse: {str(exc).splitlines()[0]}"
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "Deployment":
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            for container in _dicts(pod.get("containers")):
                if container.get("name") == CONTAINER_NAME:
                    return container, pod, None
    return None, {}, f"{DEPLOYMENT_FILE}: no Deployment with a container named {CONTAINER_NAME!r}"


def _deployment_findings(root: Path, paths: dict[str, str]) -> tuple[list[str], int]:
    container, pod, problem = _deployment_container(root)
    if container is None:
        return [problem or "no container"], 0
    volumes = {str(v.get("name")): v for v in _dicts(pod.get("volumes"))}
    env = {str(e["name"]): str(e["value"]) for e in _dicts(container.get("env")) if "value" in e}
    mounts: list[Mount] = []
    for entry in _dicts(container.get("volumeMounts")):
        volume = volumes.get(str(entry.get("name")), {})
        kind = "volume" if any(k in volume for k in WRITABLE_VOLUME_KINDS) else "other"
        target = PurePosixPath(str(entry.get("mountPath")))
        mounts.append(Mount(target, kind, str(entry.get("name")), bool(entry.get("readOnly"))))
    errors = [
        f"{DEPLOYMENT_FILE}: container {CONTAINER_NAME}: {name} {path} is not a writable emptyDir/PVC volumeMount"
        for name, path in resolve(paths, env).items()
        if covered(path, mounts) is None
    ]
    security = container.get("securityContext") or {}
    if not isinstance(security, dict) or security.get("readOnlyRootFilesystem") is not True:
        errors.append(f"{DEPLOYMENT_FILE}: container {CONTAINER_NAME}: readOnlyRootFilesystem is not true")
    return errors, len(paths)


def writable_path_findings(root: Path) -> tuple[list[str], int]:
    """(errors, path × place pairs looked at)."""
    if not (root / WRITABLE_MODULE).is_file():
        return [], 0  # no app here: nothing to check (not a pass)
    paths, problems = read_writable_paths(root)
    if problems:
        return problems, 1
    errors = [
        f"{WRITABLE_MODULE}: {name}: {path!r} is not absolute"
        for name, path in paths.items()
        if not path.startswith("/")
    ]
    errors += _dockerfile_findings(root, paths)
    compose_errors, compose_checked = _compose_findings(root, paths)
    deployment_errors, deployment_checked = _deployment_findings(root, paths)
    return errors + compose_errors + deployment_errors, compose_checked + deployment_checked
