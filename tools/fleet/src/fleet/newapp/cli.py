"""`fleet new-app NAME`: scaffold an application's manifests under k8s/applications/base/NAME/.

Exit codes (fleet/exits.py): 0 created; 8 refused: the app directory already exists (nothing is overwritten);
3 invalid input (name, namespace, port, image, paths, replicas).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fleet import exits
from fleet.exits import die
from fleet.newapp.render import AppSpec, scaffold
from fleet.output import emit

EXIT_EXISTS, EXIT_BAD_INPUT = exits.REFUSED, exits.BAD_INPUT


def new_app_command(
    name: Annotated[str, typer.Argument(help="App name: a DNS-1035 label (a-z, 0-9, '-', starts with a letter).")],
    port: Annotated[int, typer.Option(help="Container port the app listens on (>= 1024).")] = 8080,
    image: Annotated[str | None, typer.Option(help="Container image; default NAME:0.1.0.")] = None,
    namespace: Annotated[str, typer.Option(help="Namespace the app runs in.")] = "applications",
    root: Annotated[Path, typer.Option(help="Directory that holds one directory per app.")] = Path(
        "k8s/applications/base"
    ),
    health_path: Annotated[str, typer.Option(help="HTTP path for readiness and liveness probes.")] = "/health",
    metrics_path: Annotated[str, typer.Option(help="HTTP path Prometheus scrapes.")] = "/metrics",
    min_replicas: Annotated[int, typer.Option(help="HPA minimum.")] = 1,
    max_replicas: Annotated[int, typer.Option(help="HPA maximum (the pod budget counts this).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Scaffold Deployment, Service, HPA, PDB, NetworkPolicy, ServiceMonitor, ResourceQuota, LimitRange."""
    spec = AppSpec(name, namespace, port, image, health_path, metrics_path, min_replicas, max_replicas)
    try:
        target = scaffold(spec, root)
    except ValueError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    except FileExistsError as exc:
        die(str(exc), EXIT_EXISTS)
    files = sorted(p.name for p in target.iterdir())
    data = {
        "name": name,
        "namespace": namespace,
        "image": spec.image_ref,
        "directory": str(target),
        "files": files,
        "next_steps": [
            f"add {name} to the resources of the overlay that deploys it",
            "run `fleet validate`",
            f"run `fleet capacity budget --manifests {root}` to check the node still has room",
        ],
    }

    def render(console: Console) -> None:
        console.print(f"[green]created[/] {target}/ with {len(files)} files: {', '.join(files)}")
        for step in data["next_steps"]:
            console.print(f"  next: {step}")

    emit(data, render, as_json)
