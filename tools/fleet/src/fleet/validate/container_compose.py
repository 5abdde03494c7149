"""compose.yaml, read with PyYAML (anchors and `<<` merges resolve as compose resolves them): the services of each
profile, the files it references, loopback-only ports, and how the services that run our image are hardened.
No Docker engine is needed (or used)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

COMPOSE_FILE = Path("compose.yaml")
APP_DOCKERFILE = Path("applications/load-harness/Dockerfile")
APP_IMAGE = re.compile(r"(^|/)load-harness(:|@|$)")
DEFAULT_PROFILE = "default"  # services without `profiles:` start in every invocation
# The services each profile must have (compose.yaml's header comment says what each one is for).
EXPECTED_SERVICES: dict[str, set[str]] = {
    DEFAULT_PROFILE: {"postgres", "migrate", "load-harness"},
    "test": {"test"},
    "observability": {"prometheus", "grafana", "pushgateway", "alertmanager"},
    "cluster": {"lh-1", "lh-2", "lh-3", "balancer"},
}
CLUSTER_REPLICAS = 3
# Services that run our image but may write their root filesystem, and why.
WRITABLE_ROOT_ALLOWED = {"test": "make test writes the mounted checkout: var/, caches, node_modules"}
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


class ComposeError(ValueError):
    """compose.yaml is missing or is not a mapping of services."""


@dataclass(frozen=True)
class Mount:
    target: PurePosixPath
    kind: str  # tmpfs, volume or bind
    source: str  # the host path (bind) or volume name; empty for tmpfs
    read_only: bool


@dataclass(frozen=True)
class Service:
    name: str
    spec: dict[str, object]

    @property
    def profiles(self) -> list[str]:
        value = self.spec.get("profiles")
        return [str(p) for p in value] if isinstance(value, list) and value else [DEFAULT_PROFILE]

    def build(self) -> tuple[str, str, str] | None:
        """(context, dockerfile relative to the context, target) when the service is built here."""
        build = self.spec.get("build")
        if isinstance(build, str):
            return build, "Dockerfile", ""
        if isinstance(build, dict):
            return (
                str(build.get("context", ".")),
                str(build.get("dockerfile", "Dockerfile")),
                str(build.get("target", "")),
            )
        return None

    def runs_app_image(self, root: Path) -> bool:
        build = self.build()
        if build is not None:
            context, dockerfile, _ = build
            return (root / context / dockerfile).resolve() == (root / APP_DOCKERFILE).resolve()
        return bool(APP_IMAGE.search(str(self.spec.get("image", ""))))

    def environment(self) -> dict[str, str]:
        value = self.spec.get("environment")
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        if isinstance(value, list):
            pairs = (str(item).partition("=") for item in value)
            return {k: v for k, _, v in pairs}
        return {}

    def mounts(self) -> list[Mount]:
        mounts: list[Mount] = []
        tmpfs = self.spec.get("tmpfs")
        for entry in [tmpfs] if isinstance(tmpfs, str) else tmpfs if isinstance(tmpfs, list) else []:
            mounts.append(Mount(PurePosixPath(str(entry).split(":", 1)[0]), "tmpfs", "", False))
        volumes = self.spec.get("volumes")
        for entry in volumes if isinstance(volumes, list) else []:
            mount = _volume_mount(entry)
            if mount is not None:
                mounts.append(mount)
        return mounts


def _volume_mount(entry: object) -> Mount | None:
    if isinstance(entry, dict):
        kind = str(entry.get("type", "volume"))
        target = entry.get("target")
        if not target:
            return None
        return Mount(PurePosixPath(str(target)), kind, str(entry.get("source", "")), bool(entry.get("read_only")))
    parts = str(entry).split(":")
    if len(parts) == 1:  # an anonymous volume
        return Mount(PurePosixPath(parts[0]), "volume", "", False)
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) > 2 else []
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return Mount(PurePosixPath(target), kind, source, "ro" in options)


def interpolate(value: str) -> str:
    """compose's `${VAR:-default}` with no variables set: what the file means on a machine that sets none."""
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def load_services(root: Path) -> list[Service]:
    path = root / COMPOSE_FILE
    if not path.is_file():
        raise ComposeError(f"{COMPOSE_FILE}: missing")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ComposeError(f"{COMPOSE_FILE}: cannot parse: {str(exc).splitlines()[0]}") from exc
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not services:
        raise ComposeError(f"{COMPOSE_FILE}: no `services` mapping")
    return [Service(str(name), spec if isinstance(spec, dict) else {}) for name, spec in services.items()]


def _profile_findings(services: list[Service], root: Path) -> list[str]:
    by_name = {s.name: s for s in services}
    errors: list[str] = []
    for profile, names in EXPECTED_SERVICES.items():
        for name in sorted(names):
            service = by_name.get(name)
            if service is None:
                errors.append(f"{COMPOSE_FILE}: profile {profile}: no service {name!r}")
            elif profile not in service.profiles:
                errors.append(f"{COMPOSE_FILE}: service {name!r} is in {service.profiles}, expected profile {profile}")
    replicas = [s for s in services if "cluster" in s.profiles and s.runs_app_image(root)]
    if len(replicas) != CLUSTER_REPLICAS:
        errors.append(
            f"{COMPOSE_FILE}: profile cluster runs {len(replicas)} app replica(s), expected {CLUSTER_REPLICAS}"
        )
    test = by_name.get("test")
    if test is not None:
        words = [str(w) for part in ("entrypoint", "command") for w in _as_list(test.spec.get(part))]
        if "make" not in words or "test" not in words:
            errors.append(f"{COMPOSE_FILE}: service 'test' does not run `make test` (runs {words})")
    app = by_name.get("load-harness")
    if app is not None and "--reload" not in [str(w) for w in _as_list(app.spec.get("command"))]:
        errors.append(f"{COMPOSE_FILE}: service 'load-harness' (default profile) does not serve with --reload")
    return errors


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return list(value)
    return list(str(value).split()) if value else []


def _stage_names(dockerfile: Path) -> set[str]:
    from fleet.validate.container_dockerfile import parse_stages  # the one Dockerfile parser

    return {stage.name for stage in parse_stages(dockerfile.read_text(encoding="utf-8"))}


def _file_findings(service: Service, root: Path) -> list[str]:
    where = f"{COMPOSE_FILE}: service {service.name!r}"
    errors: list[str] = []
    build = service.build()
    if build is not None:
        context, dockerfile, target = build
        if not (root / context).is_dir():
            errors.append(f"{where}: build context {context!r} does not exist")
        elif not (root / context / dockerfile).is_file():
            errors.append(f"{where}: dockerfile {dockerfile!r} does not exist in {context!r}")
        elif target and target not in _stage_names(root / context / dockerfile):
            errors.append(f"{where}: build target {target!r} is not a stage of {dockerfile}")
    image = interpolate(str(service.spec.get("image", "")))
    if image and build is None:
        name = image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        if "@" not in image and tag in ("", "latest"):
            errors.append(f"{where}: image {image!r} needs a version tag (not latest) or a digest")
    for mount in service.mounts():
        if mount.kind == "bind" and not (root / interpolate(mount.source)).exists():
            errors.append(f"{where}: bind-mounted {mount.source!r} does not exist")
    env_files = service.spec.get("env_file")
    for env_file in [env_files] if isinstance(env_files, str) else env_files if isinstance(env_files, list) else []:
        name = str(env_file.get("path", "")) if isinstance(env_file, dict) else str(env_file)
        required = not isinstance(env_file, dict) or env_file.get("required", True)
        if required and not (root / name).is_file():
            errors.append(f"{where}: env_file {name!r} does not exist")
    return errors


def _config_file_findings(root: Path) -> list[str]:
    """Top-level `configs:` and `secrets:` given as files must exist."""
    data = yaml.safe_load((root / COMPOSE_FILE).read_text(encoding="utf-8"))
    errors: list[str] = []
    for section in ("configs", "secrets"):
        entries = data.get(section) if isinstance(data, dict) else None
        for name, entry in entries.items() if isinstance(entries, dict) else []:
            file = entry.get("file") if isinstance(entry, dict) else None
            if file and not (root / interpolate(str(file))).exists():
                errors.append(f"{COMPOSE_FILE}: {section}.{name}: file {file!r} does not exist")
    return errors


def _port_findings(service: Service) -> list[str]:
    where = f"{COMPOSE_FILE}: service {service.name!r}"
    errors: list[str] = []
    if str(service.spec.get("network_mode", "")) == "host":
        errors.append(f"{where}: network_mode host publishes every port on every interface")
    ports = service.spec.get("ports")
    for port in ports if isinstance(ports, list) else []:
        if isinstance(port, dict):
            host_ip = str(port.get("host_ip", ""))
        else:
            text = str(port)
            # host_ip:published:target, with an IPv6 host_ip in brackets; fewer parts bind every interface.
            host_ip = text.rsplit(":", 2)[0] if text.count(":") >= 2 else ""
        if host_ip not in LOOPBACK:
            errors.append(f"{where}: port {port!r} is published on {host_ip or 'every interface'}, not 127.0.0.1")
    return errors


def _user_findings(service: Service) -> list[str]:
    where = f"{COMPOSE_FILE}: service {service.name!r}"
    user = interpolate(str(service.spec.get("user", ""))).split(":", 1)[0]
    if not user:
        return [f"{where}: runs our image with no `user:`; set the image's non-root 10001:10001"]
    if not user.isdigit() or int(user) == 0:
        return [f"{where}: user {service.spec.get('user')!r} is not a numeric non-root UID"]
    return []


def compose_findings(root: Path) -> tuple[list[str], int]:
    """(errors, services looked at). No compose.yaml is nothing to check (checked 0), as the other trees' checks
    treat theirs; writable-paths still fails then, when the app lists paths that compose must mount."""
    if not (root / COMPOSE_FILE).is_file():
        return [], 0
    try:
        services = load_services(root)
    except ComposeError as exc:
        return [str(exc)], 1
    errors = _profile_findings(services, root) + _config_file_findings(root)
    for service in services:
        errors += _file_findings(service, root) + _port_findings(service)
        if not service.runs_app_image(root):
            continue
        errors += _user_findings(service)
        if service.name not in WRITABLE_ROOT_ALLOWED and service.spec.get("read_only") is not True:
            errors.append(f"{COMPOSE_FILE}: service {service.name!r} runs our image without read_only: true")
    return errors, len(services)


def hardened_app_services(root: Path) -> list[Service]:
    """The services that run our image on a read-only root (what writable-paths checks)."""
    return [s for s in load_services(root) if s.runs_app_image(root) and s.name not in WRITABLE_ROOT_ALLOWED]
