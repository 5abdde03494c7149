"""The pre-destroy report: what was found, what --apply did, and what was still there when the wait ended.

Every module of the phase fills in these records; `command.py` renders them and `Report.to_json` is the
`--json` output.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ObjectRef(BaseModel):
    """One Kubernetes object, by kind, namespace and name (plus its uid, so a recreated object is not "gone")."""

    kind: str
    namespace: str
    name: str
    uid: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class FluxObject(ObjectRef):
    """A Kustomization or HelmRelease, and whether it was already suspended when pre-destroy found it."""

    suspended: bool = False


class AwsResource(BaseModel):
    """An AWS resource a Kubernetes object owns: the load balancer of a Service, or the EBS volume of a PVC."""

    kind: Literal["load-balancer", "volume"]
    id: str
    name: str
    # How the link was made: the tag that matched, the hostname in the object's status, or the PV's volumeHandle.
    found_by: str
    owner: str


class Target(ObjectRef):
    """A Gateway, Ingress, LoadBalancer Service or PVC that --apply deletes, with the AWS resources it owns."""

    terminating: bool = False
    # Pods that still mount this PVC: the pvc-protection finalizer keeps the PVC until they stop.
    held_by: list[str] = Field(default_factory=list)
    aws: list[AwsResource] = Field(default_factory=list)
    # AWS resources deliberately not waited for (a PV with reclaimPolicy Retain keeps its volume by design).
    kept: list[AwsResource] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Action(BaseModel):
    """One call --apply made: verb "suspend" or "delete", and the result ("done", "already gone", ...)."""

    verb: Literal["suspend", "delete"]
    object: str
    result: str


class Report(BaseModel):
    cluster: str
    region: str
    applied: bool
    cluster_status: str | None = None
    eks_endpoint: str | None = None
    kube_server: str | None = None
    kube_context: str | None = None
    # Kinds whose API group the cluster does not serve (the CRD is not installed): nothing to do for them.
    not_installed: list[str] = Field(default_factory=list)
    suspend: list[FluxObject] = Field(default_factory=list)
    delete: list[Target] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    # After the wait: the objects still in the API and the AWS resources still in the account.
    remaining: list[Target] = Field(default_factory=list)
    remaining_aws: list[AwsResource] = Field(default_factory=list)
    timed_out: bool = False
    waited_seconds: float | None = None
    refused: str | None = None
    error: str | None = None

    @property
    def cluster_gone(self) -> bool:
        return self.cluster_status is None and self.error is None

    @property
    def to_suspend(self) -> list[FluxObject]:
        return [flux for flux in self.suspend if not flux.suspended]

    @property
    def has_work(self) -> bool:
        return bool(self.to_suspend or self.delete)

    def to_json(self, exit_code: int) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["mode"] = "apply" if self.applied else "dry-run"
        data["exit_code"] = exit_code
        return data
