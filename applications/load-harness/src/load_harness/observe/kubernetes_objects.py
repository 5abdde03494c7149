"""The parts of Kubernetes API objects the Kubernetes provider reads (observe/kubernetes.py), as the API server's
JSON: camel-case fields in, snake-case attributes out, everything else ignored. The official client's own models
are not used because they carry no type information and turn timestamps into naive datetimes."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

NEW_SIZE = re.compile(r"New size: (\d+)")
POD_NAME = re.compile(r"(?:Created|Deleted) pod: (\S+)")


def seconds(stamp: str | None) -> float | None:
    """An API timestamp (RFC 3339: `Z` or an offset, an optional fraction) as Unix seconds."""
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


class ApiModel(BaseModel):
    """Camel-case JSON in, snake-case attributes out; unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class OwnerReference(ApiModel):
    kind: str = ""
    name: str = ""
    uid: str = ""


class ObjectMeta(ApiModel):
    name: str = ""
    uid: str = ""
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    owner_references: list[OwnerReference] = Field(default_factory=list)


class Condition(ApiModel):
    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None


class MetricTarget(ApiModel):
    type: str = ""
    average_utilization: float | None = None


class ResourceMetric(ApiModel):
    name: str = ""
    target: MetricTarget | None = None
    current: MetricTarget | None = None


class MetricSpec(ApiModel):
    """A spec.metrics[] or status.currentMetrics[] entry; only Resource and ContainerResource carry CPU."""

    type: str = ""
    resource: ResourceMetric | None = None
    container_resource: ResourceMetric | None = None

    def cpu(self) -> ResourceMetric | None:
        metric = self.resource if self.type == "Resource" else self.container_resource
        return metric if metric is not None and metric.name == "cpu" else None


class ScaleTarget(ApiModel):
    kind: str = ""
    name: str = ""


class HpaSpec(ApiModel):
    scale_target_ref: ScaleTarget = Field(default_factory=ScaleTarget)
    min_replicas: int | None = None
    max_replicas: int | None = None
    metrics: list[MetricSpec] = Field(default_factory=list)


class HpaStatus(ApiModel):
    current_replicas: int | None = None
    desired_replicas: int | None = None
    last_scale_time: str | None = None
    current_metrics: list[MetricSpec] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)


class Hpa(ApiModel):
    metadata: ObjectMeta
    spec: HpaSpec = Field(default_factory=HpaSpec)
    status: HpaStatus = Field(default_factory=HpaStatus)


class InvolvedObject(ApiModel):
    kind: str = ""
    name: str = ""
    uid: str = ""


class EventSeries(ApiModel):
    last_observed_time: str | None = None


class Event(ApiModel):
    """A core/v1 Event. `count` > 1 means the API server folded repeats into one object."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    involved_object: InvolvedObject = Field(default_factory=InvolvedObject)
    reason: str = ""
    message: str = ""
    count: int | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    series: EventSeries | None = None

    def occurrences(self) -> list[float]:
        """When it happened: the last time, and the first too when repeats were folded (the ones between are lost)."""
        last = seconds(
            (self.series.last_observed_time if self.series else None)
            or self.last_timestamp
            or self.event_time
            or self.first_timestamp
            or self.metadata.creation_timestamp
        )
        first = seconds(self.first_timestamp)
        if last is None:
            return []
        return [first, last] if (self.count or 1) > 1 and first is not None and first < last else [last]


class LabelRequirement(ApiModel):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class LabelSelector(ApiModel):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelRequirement] = Field(default_factory=list)

    def query(self) -> str:
        """The selector as the API's labelSelector parameter (`a=b,c in (d,e),!f`)."""
        terms = [f"{key}={value}" for key, value in sorted(self.match_labels.items())]
        for req in self.match_expressions:
            if req.operator in ("In", "NotIn"):
                terms.append(f"{req.key} {req.operator.lower()} ({','.join(req.values)})")
            else:
                terms.append(req.key if req.operator == "Exists" else f"!{req.key}")
        return ",".join(terms)


class DeploymentSpec(ApiModel):
    replicas: int | None = None
    selector: LabelSelector = Field(default_factory=LabelSelector)


class DeploymentStatus(ApiModel):
    observed_generation: int | None = None
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0


class Deployment(ApiModel):
    metadata: ObjectMeta
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)

    def rollout_note(self) -> str:
        """The rollout as one line: complete once the controller saw this generation and every pod is current."""
        status, wanted = self.status, self.spec.replicas
        seen = status.observed_generation is not None and status.observed_generation >= (self.metadata.generation or 0)
        current = wanted is not None and status.updated_replicas == status.available_replicas == wanted
        state = "complete" if seen and current and status.replicas == wanted else "in progress"
        return (
            f"Deployment {self.metadata.name} rollout {state}: generation {self.metadata.generation}, observed "
            f"{status.observed_generation}; {wanted} wanted, {status.updated_replicas} updated, "
            f"{status.ready_replicas} ready, {status.available_replicas} available"
        )


class PodStatus(ApiModel):
    conditions: list[Condition] = Field(default_factory=list)


class Pod(ApiModel):
    metadata: ObjectMeta
    status: PodStatus = Field(default_factory=PodStatus)

    def ready_at(self) -> float | None:
        ready = next((c for c in self.status.conditions if c.type == "Ready"), None)
        return seconds(ready.last_transition_time) if ready is not None and ready.status == "True" else None


class ReplicaSet(ApiModel):
    metadata: ObjectMeta
