"""`fleet new-app NAME`: scaffold an application's manifests under k8s/applications/base/NAME/.

Exit codes (fleet/exits.py): 0 created; 8 refused: the app directory already exists (nothing is overwritten);
3 invalid input (name, namespace, port, image, paths, replicas, catalog annotations).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fleet import exits
from fleet.catalog.annotations import TIER_DEFAULT_SLO, TIER_LIFECYCLE, CatalogAnnotations, tier_problem
from fleet.exits import die
from fleet.newapp.render import quota_pods, scaffold
from fleet.newapp.spec import SHARED_NAMESPACE, AppSpec, image_note
from fleet.output import emit

EXIT_EXISTS, EXIT_BAD_INPUT = exits.REFUSED, exits.BAD_INPUT
TIERS = ", ".join(TIER_LIFECYCLE)


def _namespace(name: str, namespace: str | None, own_namespace: bool) -> str:
    if own_namespace and namespace is not None:
        die(
            f"--own-namespace puts the app in a namespace named after it ({name!r}); drop --namespace {namespace}",
            EXIT_BAD_INPUT,
        )
    return name if own_namespace else namespace or SHARED_NAMESPACE


def _slo(tier: str, slo: str | None) -> str:
    if slo is not None:
        return slo
    if tier_problem(tier):
        return ""  # the tier's own message says what is wrong; no default to pick
    return TIER_DEFAULT_SLO[tier]


def new_app_command(
    name: Annotated[str, typer.Argument(help="App name: a DNS-1035 label (a-z, 0-9, '-', starts with a letter).")],
    image: Annotated[
        str, typer.Option(help="Pinned container image: a version tag (not latest) or, better, @sha256:digest.")
    ],
    owner: Annotated[str, typer.Option(help="Owning team, a Backstage entity ref: team-cart, group:team-cart.")],
    tier: Annotated[str, typer.Option(help=f"Service tier: {TIERS}.")],
    runbook: Annotated[str, typer.Option(help="Runbook URL (http/https).")],
    repo: Annotated[str, typer.Option(help="Source repository URL (http/https).")],
    slo: Annotated[
        str | None, typer.Option(help="Availability SLO like 99.5%; default by tier: critical 99.9%, standard 99.5%.")
    ] = None,
    dashboard: Annotated[str | None, typer.Option(help="Dashboard URL (http/https), optional.")] = None,
    port: Annotated[int, typer.Option(help="Container port the app listens on (>= 1024).")] = 8080,
    namespace: Annotated[
        str | None, typer.Option(help=f"Shared namespace the app runs in; default {SHARED_NAMESPACE}.")
    ] = None,
    own_namespace: Annotated[
        bool, typer.Option("--own-namespace", help="Give the app its own namespace NAME, with a quota and limits.")
    ] = False,
    # Not --root: every other command's --root is the repository; this is the folder the app's folder goes in.
    apps_dir: Annotated[Path, typer.Option("--apps-dir", help="Directory that holds one directory per app.")] = Path(
        "k8s/applications/base"
    ),
    health_path: Annotated[str, typer.Option(help="HTTP path for readiness and liveness probes.")] = "/health",
    metrics_path: Annotated[str, typer.Option(help="HTTP path Prometheus scrapes.")] = "/metrics",
    min_replicas: Annotated[int, typer.Option(help="HPA minimum.")] = 1,
    max_replicas: Annotated[int, typer.Option(help="HPA maximum (the pod budget counts this).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Scaffold Deployment, Service, HPA, PDB, NetworkPolicy, ServiceMonitor (+ Namespace, quota, limits if own)."""
    catalog = CatalogAnnotations(
        owner=owner, tier=tier, slo=_slo(tier, slo), runbook=runbook, dashboard=dashboard, repo=repo
    )
    spec = AppSpec(
        name=name,
        image=image,
        annotations=catalog,
        namespace=_namespace(name, namespace, own_namespace),
        own_namespace=own_namespace,
        port=port,
        health_path=health_path,
        metrics_path=metrics_path,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
    )
    try:
        target = scaffold(spec, apps_dir)
    except ValueError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    except FileExistsError as exc:
        die(str(exc), EXIT_EXISTS)
    files = sorted(p.name for p in target.iterdir())
    note = image_note(spec.image)
    quota_note = (
        f"namespace {spec.namespace} is the app's own: ResourceQuota pods {quota_pods(spec)} "
        f"(maxReplicas {spec.max_replicas} + 1 surge)"
        if own_namespace
        else f"shared namespace {spec.namespace}: no ResourceQuota or LimitRange written; its owner sizes them for "
        f"every app, this one needs up to {quota_pods(spec)} pods (maxReplicas + 1 surge)"
    )
    notes = [n for n in (note, quota_note) if n]
    next_steps = [
        f"add {name} to the resources of the overlay that deploys it",
        "run `fleet validate`",
        f"run `fleet capacity budget --manifests {apps_dir}` to check the node still has room",
    ]
    data = {
        "name": name,
        "namespace": spec.namespace,
        "own_namespace": own_namespace,
        "image": spec.image,
        "annotations": catalog.as_annotations(),
        "directory": str(target),
        "files": files,
        "notes": notes,
        "next_steps": next_steps,
    }

    def render(console: Console) -> None:
        console.print(f"[green]created[/] {target}/ with {len(files)} files: {', '.join(files)}", soft_wrap=True)
        for line in notes:
            console.print(f"  note: {line}", soft_wrap=True)
        for step in next_steps:
            console.print(f"  next: {step}", soft_wrap=True)

    emit(data, render, as_json)
