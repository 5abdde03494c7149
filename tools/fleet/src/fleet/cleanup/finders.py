"""Discovery: one finder per resource kind (in `kinds/`), all run by `discover` through the same loop.

Tag decisions are always made by `tags.classify`. The order matters where one kind is found through
another: listeners and target groups through their load balancers, an instance's ENIs, volumes and address
through the instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleet.cleanup.aws import Aws
from fleet.cleanup.kinds import elb, iam, logs, network, nodes, storage
from fleet.cleanup.kinds.common import Finder
from fleet.cleanup.model import Orphan, Report, Target

# DescribeTags' batch limit, kept importable here for `fleet pre-destroy`, which reads it from this module.
ELB_TAG_BATCH = elb.TAG_BATCH

FINDERS: tuple[Finder, ...] = (
    elb.find_load_balancers,
    elb.find_listeners,
    elb.find_target_groups,
    elb.find_classic_load_balancers,
    nodes.find_instances,
    nodes.find_launch_templates,
    network.find_network_interfaces,
    network.find_security_groups,
    storage.find_volumes,
    storage.find_snapshots,
    network.find_elastic_ips,
    logs.find_log_groups,
    iam.find_oidc_providers,
    iam.find_roles,
)


def discover(aws: Aws, target: Target, finders: Sequence[Finder] = FINDERS) -> Report:
    """Run every finder in order. Any AwsError propagates: half a discovery is never reported as clean."""
    report = Report(cluster=target.cluster, region=target.region, applied=False)
    for finder in finders:
        for item in finder(aws, target, report.orphans):
            if isinstance(item, Orphan):
                report.orphans.append(item)
            else:
                report.skipped.append(item)
    return report
