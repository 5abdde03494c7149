"""What pre-destroy finds and acts on in the cluster, through the official kubernetes client.

Objects are read as the API server's JSON (`_preload_content=False`), so Services, Ingresses, PVCs and custom
objects (Flux, Gateway API) go through one code path; `KubeObject` picks out the few fields used here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, Field
from urllib3.exceptions import HTTPError

from fleet.predestroy.model import FluxObject, ObjectRef, Target

REQUEST_TIMEOUT = 30  # seconds per API call: a hung API server must not hang the destroy workflow
# A pod in these phases no longer runs, so it no longer holds its PVCs (pvc-protection ignores it).
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


class KubeError(Exception):
    """The API server refused (401, 403, 5xx) or could not be reached: nothing can be concluded."""


class NotInstalled(Exception):
    """The API server does not serve this kind (404 on its collection): its CRD is not installed."""


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str  # "" for the core API
    version: str
    plural: str
    # Served by a CRD (read through CustomObjectsApi, and may be missing); built-in kinds have typed calls.
    is_custom: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KUSTOMIZATION = Kind("Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HELM_RELEASE = Kind("HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases")
GATEWAY = Kind("Gateway", "gateway.networking.k8s.io", "v1", "gateways")
INGRESS = Kind("Ingress", "networking.k8s.io", "v1", "ingresses", is_custom=False)
SERVICE = Kind("Service", "", "v1", "services", is_custom=False)
PVC = Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", is_custom=False)

FLUX_KINDS = (KUSTOMIZATION, HELM_RELEASE)
# Deleted in this order: a Gateway or Ingress controller may own LoadBalancer Services of its own (Envoy
# Gateway does), which it removes with its parent; PVCs last, once nothing fronts the workloads.
DELETE_KINDS = (GATEWAY, INGRESS, SERVICE, PVC)
KINDS_BY_NAME = {k.kind: k for k in (*FLUX_KINDS, *DELETE_KINDS)}


class Metadata(BaseModel):
    name: str
    namespace: str = ""
    uid: str = ""
    deletionTimestamp: str | None = None  # the API's field name
    annotations: dict[str, str] = Field(default_factory=dict)


class KubeObject(BaseModel):
    """An object as the API server returns it; only metadata is typed, spec and status stay JSON."""

    metadata: Metadata
    spec: dict[str, Any] = Field(default_factory=dict)
    status: dict[str, Any] = Field(default_factory=dict)

    def ref(self, kind: Kind) -> ObjectRef:
        return ObjectRef(
            kind=kind.kind, namespace=self.metadata.namespace, name=self.metadata.name, uid=self.metadata.uid
        )

    @property
    def hostnames(self) -> list[str]:
        """Load balancer hostnames in the status: loadBalancer.ingress (Service, Ingress), addresses (Gateway)."""
        entries = (self.status.get("loadBalancer") or {}).get("ingress") or []
        names = [str(e["hostname"]) for e in entries if e.get("hostname")]
        addresses = self.status.get("addresses") or []
        names += [str(a["value"]) for a in addresses if a.get("type", "Hostname") == "Hostname" and a.get("value")]
        return names


def _reason(exc: ApiException) -> str:
    """The API server's Status message when the body is one, else the HTTP reason."""
    try:
        message = str(json.loads(exc.body or "{}").get("message") or "")
    except ValueError:
        message = ""
    return f"HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "")


class Kube:
    """The calls pre-destroy makes. Every call converts client errors into KubeError or NotInstalled."""

    def __init__(self, api: Any, server: str) -> None:
        self.server = server
        self.core = client.CoreV1Api(api)
        self.networking = client.NetworkingV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    def _call(self, what: str, method: Callable[..., Any], *args: Any) -> Any:
        try:
            response = method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                raise NotInstalled(what) from exc
            hint = " (check the kubeconfig's credentials and RBAC)" if exc.status in (401, 403) else ""
            raise KubeError(f"Kubernetes API {self.server} refused {what}: {_reason(exc)}{hint}") from exc
        except (HTTPError, OSError) as exc:
            raise KubeError(f"cannot reach the Kubernetes API at {self.server} ({what}): {exc}") from exc
        return json.loads(response.data or b"{}")

    def list_objects(self, kind: Kind) -> list[KubeObject]:
        """Every object of `kind` in all namespaces. Raises NotInstalled when the cluster does not serve it."""
        what = f"list {kind.plural}.{kind.api_version}"
        if kind.is_custom:
            answer = self._call(what, self.custom.list_cluster_custom_object, kind.group, kind.version, kind.plural)
        elif kind is INGRESS:
            answer = self._call(what, self.networking.list_ingress_for_all_namespaces)
        elif kind is SERVICE:
            answer = self._call(what, self.core.list_service_for_all_namespaces)
        else:
            answer = self._call(what, self.core.list_persistent_volume_claim_for_all_namespaces)
        return [KubeObject.model_validate(item) for item in answer.get("items") or []]

    def persistent_volume(self, name: str) -> KubeObject | None:
        try:
            return KubeObject.model_validate(self._call(f"get PV {name}", self.core.read_persistent_volume, name))
        except NotInstalled:
            return None  # the PV is already gone

    def pods_mounting(self, namespace: str, claims: Iterable[str]) -> dict[str, list[str]]:
        """For each claim name in `namespace`, the running pods that mount it (`namespace/pod`)."""
        wanted = set(claims)
        answer = self._call(f"list pods in {namespace}", self.core.list_namespaced_pod, namespace)
        holders: dict[str, list[str]] = {claim: [] for claim in wanted}
        for pod in answer.get("items") or []:
            if (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
                continue
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                if claim in wanted:
                    holders[claim].append(f"{namespace}/{pod['metadata']['name']}")
        return holders

    def suspend(self, flux: FluxObject) -> str:
        """Merge-patch spec.suspend=true, so Flux stops re-applying what is deleted next."""
        kind = KINDS_BY_NAME[flux.kind]
        body = {"spec": {"suspend": True}}
        args = (kind.group, kind.version, flux.namespace, kind.plural, flux.name, body)
        try:
            self._call(f"suspend {flux.label}", self.custom.patch_namespaced_custom_object, *args)
        except NotInstalled:
            return "already gone"
        return "suspended"

    def delete(self, target: ObjectRef) -> str:
        kind = KINDS_BY_NAME[target.kind]
        what = f"delete {target.label}"
        try:
            if kind.is_custom:
                args = (kind.group, kind.version, target.namespace, kind.plural, target.name)
                self._call(what, self.custom.delete_namespaced_custom_object, *args)
            elif kind is INGRESS:
                self._call(what, self.networking.delete_namespaced_ingress, target.name, target.namespace)
            elif kind is SERVICE:
                self._call(what, self.core.delete_namespaced_service, target.name, target.namespace)
            else:
                self._call(what, self.core.delete_namespaced_persistent_volume_claim, target.name, target.namespace)
        except NotInstalled:
            return "already gone"
        return "deleted"


def is_load_balancer_service(obj: KubeObject) -> bool:
    return obj.spec.get("type") == "LoadBalancer"


def flux_objects(kube: Kube, not_installed: list[str]) -> list[FluxObject]:
    """Every Kustomization and HelmRelease; a kind whose CRD is missing is noted in `not_installed`."""
    found: list[FluxObject] = []
    for kind in FLUX_KINDS:
        try:
            objects = kube.list_objects(kind)
        except NotInstalled:
            not_installed.append(f"{kind.kind} ({kind.api_version})")
            continue
        for obj in objects:
            ref = obj.ref(kind)
            found.append(FluxObject(**ref.model_dump(), suspended=obj.spec.get("suspend") is True))
    return found


def targets(kube: Kube, not_installed: list[str]) -> list[tuple[Target, KubeObject]]:
    """What --apply deletes, in deletion order, each with the object as read (for its status and spec)."""
    found: list[tuple[Target, KubeObject]] = []
    for kind in DELETE_KINDS:
        try:
            objects = kube.list_objects(kind)
        except NotInstalled as exc:
            if not kind.is_custom:
                raise KubeError(
                    f"the Kubernetes API at {kube.server} does not serve {kind.api_version} {kind.plural}"
                ) from exc
            not_installed.append(f"{kind.kind} ({kind.api_version})")
            continue
        for obj in objects:
            if kind is SERVICE and not is_load_balancer_service(obj):
                continue
            target = Target(**obj.ref(kind).model_dump(), terminating=obj.metadata.deletionTimestamp is not None)
            found.append((target, obj))
    return found


def still_present(kube: Kube, waiting: list[Target]) -> list[Target]:
    """The targets the API still returns (same uid), with their Terminating state and holder pods refreshed."""
    present: list[Target] = []
    for kind in DELETE_KINDS:
        mine = [t for t in waiting if t.kind == kind.kind]
        if not mine:
            continue
        try:
            listed = {(o.metadata.namespace, o.metadata.name): o for o in kube.list_objects(kind)}
        except NotInstalled:
            listed = {}  # the CRD went away with its objects
        for target in mine:
            obj = listed.get((target.namespace, target.name))
            if obj is None or (target.uid and obj.metadata.uid and obj.metadata.uid != target.uid):
                continue
            present.append(target.model_copy(update={"terminating": obj.metadata.deletionTimestamp is not None}))
    mark_holders(kube, present)
    return present


def mark_holders(kube: Kube, found: list[Target]) -> None:
    """Fill in `held_by` for every PVC in `found`: the running pods that keep it from being deleted."""
    claims = [t for t in found if t.kind == PVC.kind]
    for namespace in sorted({t.namespace for t in claims}):
        holders = kube.pods_mounting(namespace, [t.name for t in claims if t.namespace == namespace])
        for target in claims:
            if target.namespace == namespace:
                target.held_by = holders.get(target.name, [])
