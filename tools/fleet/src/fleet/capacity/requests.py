"""CPU and memory requests of pods, as the Kubernetes scheduler adds them up, for the requests part of the budget.

The scheduler places a pod by its requests, not its use: a node is full when the requests of its pods reach its
allocatable, however idle they are. So the budget sums requests. Rules kept from Kubernetes:
- a container that sets a limit but no request gets the limit as its request (API defaulting);
- a pod's effective request is max(largest init container, sum of the app containers), per resource, with
  restartable init containers (sidecars, `restartPolicy: Always`) added to both sides as they start
  (KEP-753, "Resources calculation for scheduling and pod admission");
- a container without requests adds 0: the scheduler counts nothing for it, so neither does the budget (a
  warning names the component).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

MIB = 1024 * 1024
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal(10**3)}
_DECIMAL |= {"M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15)}
_DECIMAL |= {"E": Decimal(10**18)}


def parse_quantity(raw: object) -> Decimal:
    """A Kubernetes quantity ("250m", "1.5", "256Mi", "1e9") in base units; ValueError naming it otherwise."""
    text = str(raw).strip()
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return _number(text[: -len(suffix)], raw) * factor
    if text and text[-1] in _DECIMAL:
        return _number(text[:-1], raw) * _DECIMAL[text[-1]]
    return _number(text, raw)


def _number(text: str, raw: object) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a Kubernetes quantity") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{raw!r} is not a Kubernetes quantity")
    return value


def cpu_millicores(raw: object) -> int:
    return int((parse_quantity(raw) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def memory_bytes(raw: object) -> int:
    return int(parse_quantity(raw).to_integral_value(rounding="ROUND_CEILING"))


class Requests(BaseModel):
    """CPU (millicores) and memory (bytes) requested; `+` adds, `*` multiplies by a pod count."""

    model_config = ConfigDict(frozen=True)
    cpu_m: int = 0
    memory_bytes: int = 0

    def __add__(self, other: Requests) -> Requests:
        return Requests(cpu_m=self.cpu_m + other.cpu_m, memory_bytes=self.memory_bytes + other.memory_bytes)

    def __mul__(self, pods: int) -> Requests:
        return Requests(cpu_m=self.cpu_m * pods, memory_bytes=self.memory_bytes * pods)

    def peak(self, other: Requests) -> Requests:
        """Per resource, the larger of the two (the init-container rule)."""
        return Requests(cpu_m=max(self.cpu_m, other.cpu_m), memory_bytes=max(self.memory_bytes, other.memory_bytes))

    @property
    def memory_mib(self) -> float:
        return self.memory_bytes / MIB

    def __str__(self) -> str:
        return f"{self.cpu_m}m CPU, {self.memory_mib:.0f} MiB"


def total(items: list[Requests]) -> Requests:
    result = Requests()
    for item in items:
        result = result + item
    return result


class RequestsSpec(BaseModel):
    """Requests as a data file writes them (`{cpu: 100m, memory: 70Mi}`), checked to parse."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cpu: str | None = None
    memory: str | None = None

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> str | None:
        if value is None:
            return None
        parse_quantity(value)
        return str(value)

    def requests(self) -> Requests:
        return Requests(
            cpu_m=cpu_millicores(self.cpu) if self.cpu is not None else 0,
            memory_bytes=memory_bytes(self.memory) if self.memory is not None else 0,
        )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def block_requests(resources: Any) -> Requests | None:
    """A container's `resources` block as the scheduler reads it; None when it requests nothing at all.

    A limit without a request becomes the request (the API server's defaulting). An unparsable quantity counts
    0 rather than raise: the manifest checks report malformed manifests, the budget only adds them up.
    """
    block = _dict(resources)
    requests, limits = _dict(block.get("requests")), _dict(block.get("limits"))
    found = False
    values: dict[str, int] = {}
    for key, parse in (("cpu", cpu_millicores), ("memory", memory_bytes)):
        raw = requests.get(key, limits.get(key))
        if raw is None:
            continue
        try:
            values[key] = parse(raw)
            found = True
        except ValueError:
            continue
    if not found:
        return None
    return Requests(cpu_m=values.get("cpu", 0), memory_bytes=values.get("memory", 0))


def pod_requests(pod_spec: Any) -> tuple[Requests, bool]:
    """The effective requests of one pod, and whether any container requests anything."""
    spec = _dict(pod_spec)
    found = False

    def of(container: Any) -> Requests:
        nonlocal found
        value = block_requests(_dict(container).get("resources"))
        found = found or value is not None
        return value or Requests()

    sidecars = Requests()
    init_peak = Requests()
    for init in spec.get("initContainers") or []:
        if _dict(init).get("restartPolicy") == "Always":
            sidecars = sidecars + of(init)
        else:
            # A plain init container runs alone beside the sidecars started before it.
            init_peak = init_peak.peak(sidecars + of(init))
    app = total([of(c) for c in spec.get("containers") or []]) + sidecars
    return app.peak(init_peak), found
