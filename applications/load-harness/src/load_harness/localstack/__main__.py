"""The commands behind the make targets:

    python -m load_harness.localstack replicas --count 3    # make run-replicas N=3
    python -m load_harness.localstack up                    # make observability
    python -m load_harness.localstack down                  # make observability-down

Run from the repository root (var/ and observability/ are relative to it), or pass --var-dir and --config-dir.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from load_harness.localstack.layout import Ports, StackLayout
from load_harness.localstack.monitoring import start_monitoring
from load_harness.localstack.records import RecordBook, StartError, stop_all
from load_harness.localstack.replicas import start_replicas, write_targets


def _say(line: str) -> None:
    print(line, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load_harness.localstack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default = Ports()
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("LOCAL_STACK_DIR", "var")),
        help="where the stack writes everything [env LOCAL_STACK_DIR, default var]",
    )
    parser.add_argument(
        "--config-dir", type=Path, default=Path("observability"), help="the repository's observability/ directory"
    )
    for name in ("balancer", "first_replica", "prometheus", "pushgateway", "alertmanager"):
        flag = "--" + name.replace("_", "-") + "-port"
        parser.add_argument(
            flag,
            type=int,
            default=getattr(default, name),
            dest=f"{name}_port",
            help=f"default {getattr(default, name)}",
        )
    commands = parser.add_subparsers(dest="command", required=True)
    replicas = commands.add_parser("replicas", help="start N LoadHarness replicas behind one balancer")
    replicas.add_argument("--count", type=int, default=3)
    up = commands.add_parser("up", help="start Prometheus, the Pushgateway and Alertmanager")
    up.add_argument("--scrape-interval", default=None, help="override the configuration's, e.g. 1s")
    commands.add_parser("down", help="stop everything `replicas` and `up` started")
    return parser


def _layout(args: argparse.Namespace) -> StackLayout:
    ports = Ports(
        balancer=args.balancer_port,
        first_replica=args.first_replica_port,
        prometheus=args.prometheus_port,
        pushgateway=args.pushgateway_port,
        alertmanager=args.alertmanager_port,
    )
    return StackLayout(var_dir=args.var_dir.resolve(), config_dir=args.config_dir.resolve(), ports=ports)


def down(layout: StackLayout) -> int:
    stopped = stop_all(RecordBook(layout.replica_pids)) + stop_all(RecordBook(layout.monitoring_pids))
    if layout.targets_file.exists():
        write_targets(layout, [])  # a Prometheus started later must not scrape replicas that are gone
    if not stopped:
        _say("nothing was running")
    for record in stopped:
        _say(f"stopped {record.name} (pid {record.pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    layout = _layout(args)
    try:
        if args.command == "replicas":
            start_replicas(layout, args.count, _say)
        elif args.command == "up":
            start_monitoring(layout, _say, args.scrape_interval)
        else:
            return down(layout)
    except StartError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
