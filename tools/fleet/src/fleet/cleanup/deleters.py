"""`--apply`: delete orphans kind by kind in `DELETE_ORDER`, waiting (with progress on stderr) where a later
kind needs an earlier one gone, not just "deleting".

Each deleter appends an Outcome as soon as a resource is gone, so when an AwsError stops the run the report
still shows exactly what was deleted before it.
"""

from __future__ import annotations

from fleet.cleanup.aws import Aws
from fleet.cleanup.kinds import elb, iam, logs, network, nodes, storage
from fleet.cleanup.kinds.common import Deleter
from fleet.cleanup.model import DELETE_ORDER, Report
from fleet.cleanup.tags import ALL_KINDS

DELETERS: dict[str, Deleter] = {
    "instance": nodes.terminate_instances,
    "launch-template": nodes.delete_launch_templates,
    "listener": elb.delete_listeners,
    "load-balancer": elb.delete_load_balancers,
    "classic-load-balancer": elb.delete_classic_load_balancers,
    "target-group": elb.delete_target_groups,
    "network-interface": network.delete_network_interfaces,
    "security-group": network.delete_security_groups,
    "volume": storage.delete_volumes,
    "snapshot": storage.delete_snapshots,
    "elastic-ip": network.release_elastic_ips,
    "log-group": logs.delete_log_groups,
    "oidc-provider": iam.delete_oidc_providers,
    "iam-role": iam.delete_roles,
}
assert set(DELETERS) == set(DELETE_ORDER) == ALL_KINDS, "every kind needs a deleter, a place in the order, tag rules"


def apply(aws: Aws, report: Report) -> None:
    """Delete the report's orphans in dependency order. Raises AwsError at the first failure."""
    report.applied = True
    for kind in DELETE_ORDER:
        orphans = [o for o in report.orphans if o.kind == kind]
        if orphans:
            aws.progress(f"deleting {len(orphans)} {kind}(s)")
            DELETERS[kind](aws, orphans, report.outcomes)
