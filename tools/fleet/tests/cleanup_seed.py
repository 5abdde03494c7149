"""Seed an AWS account (moto) with a destroyed cluster's orphans and with lookalikes that must survive.

Used by the cleanup tests and by the script that captured the output shown in docs/fleet.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3


@dataclass
class Seeded:
    """What was created: (kind, id) pairs that cleanup must find, must skip, and must never mention."""

    orphans: set[tuple[str, str]] = field(default_factory=set)
    skipped: set[tuple[str, str]] = field(default_factory=set)
    survivors: set[tuple[str, str]] = field(default_factory=set)
    vpc: str = ""
    subnet: str = ""


@dataclass(frozen=True)
class Clients:
    """The boto3 clients a seed needs, for moto in-process (endpoint None) or a moto_server."""

    ec2: Any
    elbv2: Any
    elb: Any
    logs: Any
    iam: Any

    @classmethod
    def make(cls, region: str, endpoint_url: str | None = None) -> Clients:
        def client(service: str) -> Any:
            return boto3.client(service, region_name=region, endpoint_url=endpoint_url)

        return cls(client("ec2"), client("elbv2"), client("elb"), client("logs"), client("iam"))


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def seed(clients: Clients, cluster: str, zone_prefix: str = "eu-west-2") -> Seeded:
    """Every kind cleanup knows: the load balancer and network kinds here, the rest in `seed_more_kinds`."""
    out = _seed_lb_and_network(clients.ec2, clients.elbv2, cluster, zone_prefix)
    seed_more_kinds(clients, cluster, out, zone_prefix)
    return out


def _seed_lb_and_network(ec2: Any, elbv2: Any, cluster: str, zone_prefix: str) -> Seeded:
    out = Seeded()
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    out.vpc = vpc
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{zone_prefix}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    out.subnet = subnets[0]

    def lb(name: str, tags: dict[str, str], kind: str = "application") -> str:
        extra = {"Tags": _tags(tags)} if tags else {}
        arn: str = elbv2.create_load_balancer(Name=name, Subnets=subnets, Type=kind, **extra)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        return arn

    def tg(name: str, tags: dict[str, str], protocol: str = "HTTP") -> str:
        extra = {"Tags": _tags(tags)} if tags else {}
        arn: str = elbv2.create_target_group(
            Name=name, Protocol=protocol, Port=80, VpcId=vpc, TargetType="ip", **extra
        )["TargetGroups"][0]["TargetGroupArn"]
        return arn

    def listener(lb_arn: str, tg_arn: str, protocol: str = "HTTP", port: int = 80) -> str:
        arn: str = elbv2.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol=protocol,
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )["Listeners"][0]["ListenerArn"]
        return arn

    # --- orphans of `cluster` ---------------------------------------------------------------------------
    alb = lb(f"k8s-{cluster}-web", {"elbv2.k8s.aws/cluster": cluster, "ingress.k8s.aws/stack": "default/web"})
    alb_tg = tg(f"k8s-{cluster}-web-tg", {"elbv2.k8s.aws/cluster": cluster})
    out.orphans |= {("load-balancer", alb), ("target-group", alb_tg), ("listener", listener(alb, alb_tg))}
    nlb = lb(f"{cluster}-svc-nlb", {f"kubernetes.io/cluster/{cluster}": "owned"}, "network")
    nlb_tg = tg(f"{cluster}-svc-untagged", {}, "TCP")  # untagged, but serves only the orphan NLB
    nlb_listener = listener(nlb, nlb_tg, "TCP")
    out.orphans |= {("load-balancer", nlb), ("target-group", nlb_tg), ("listener", nlb_listener)}

    eni = ec2.create_network_interface(
        SubnetId=subnets[0],
        Description="aws-K8S-i-0123",
        TagSpecifications=_spec("network-interface", {"cluster.k8s.amazonaws.com/name": cluster}),
    )["NetworkInterface"]["NetworkInterfaceId"]
    out.orphans.add(("network-interface", eni))

    sg_lb = ec2.create_security_group(
        GroupName=f"k8s-{cluster}-lb",
        Description="LB controller backend",
        VpcId=vpc,
        TagSpecifications=_spec("security-group", {"elbv2.k8s.aws/cluster": cluster}),
    )["GroupId"]
    sg_node = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{cluster}",
        Description="cluster SG",
        VpcId=vpc,
        TagSpecifications=_spec("security-group", {f"kubernetes.io/cluster/{cluster}": "owned"}),
    )["GroupId"]
    # The two orphan groups reference each other, as node and LB groups do: cleanup must unlink them first.
    for source, target in ((sg_node, sg_lb), (sg_lb, sg_node)):
        ec2.authorize_security_group_ingress(
            GroupId=target,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": source}]}
            ],
        )
    out.orphans |= {("security-group", sg_lb), ("security-group", sg_node)}

    vol = ec2.create_volume(
        Size=8,
        AvailabilityZone=f"{zone_prefix}a",
        TagSpecifications=_spec(
            "volume",
            {
                f"kubernetes.io/cluster/{cluster}": "owned",
                "kubernetes.io/created-for/pvc/name": "data-postgres-0",
                "kubernetes.io/created-for/pvc/namespace": "db",
            },
        ),
    )["VolumeId"]
    out.orphans.add(("volume", vol))

    eip = ec2.allocate_address(
        Domain="vpc", TagSpecifications=_spec("elastic-ip", {f"kubernetes.io/cluster/{cluster}": "owned"})
    )["AllocationId"]
    out.orphans.add(("elastic-ip", eip))

    # --- lookalikes that must survive and never be listed ----------------------------------------------
    plain_lb = lb("untagged-web", {})
    plain_tg = tg("untagged-tg", {})
    other_lb = lb("k8s-other-web", {"elbv2.k8s.aws/cluster": "other"})
    near_tg = tg("near-name-tg", {"elbv2.k8s.aws/cluster": f"{cluster}-2"})
    near_sg = ec2.create_security_group(
        GroupName="near-name",
        Description="cluster NAME-2",
        VpcId=vpc,
        TagSpecifications=_spec("security-group", {f"kubernetes.io/cluster/{cluster}-2": "owned"}),
    )["GroupId"]
    plain_sg = ec2.create_security_group(GroupName="untagged", Description="x", VpcId=vpc)["GroupId"]
    near_eni = ec2.create_network_interface(
        SubnetId=subnets[0],
        TagSpecifications=_spec("network-interface", {"cluster.k8s.amazonaws.com/name": f"{cluster}-2"}),
    )["NetworkInterface"]["NetworkInterfaceId"]
    other_vol = ec2.create_volume(
        Size=1,
        AvailabilityZone=f"{zone_prefix}a",
        TagSpecifications=_spec("volume", {"kubernetes.io/cluster/other": "owned"}),
    )["VolumeId"]
    plain_vol = ec2.create_volume(Size=1, AvailabilityZone=f"{zone_prefix}a")["VolumeId"]
    near_eip = ec2.allocate_address(
        Domain="vpc", TagSpecifications=_spec("elastic-ip", {"eks:cluster-name": f"{cluster}-2"})
    )["AllocationId"]
    plain_eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    out.survivors |= {
        ("load-balancer", plain_lb),
        ("target-group", plain_tg),
        ("load-balancer", other_lb),
        ("target-group", near_tg),
        ("security-group", near_sg),
        ("security-group", plain_sg),
        ("network-interface", near_eni),
        ("volume", other_vol),
        ("volume", plain_vol),
        ("elastic-ip", near_eip),
        ("elastic-ip", plain_eip),
    }

    # --- tagged for the cluster, but left alone on purpose (listed as skipped) -------------------------
    # moto does not check the AMI exists, and DescribeImages costs seconds (it loads moto's AMI catalogue).
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]
    busy_vol = ec2.create_volume(
        Size=1,
        AvailabilityZone=instance["Placement"]["AvailabilityZone"],
        TagSpecifications=_spec("volume", {f"kubernetes.io/cluster/{cluster}": "owned"}),
    )["VolumeId"]
    ec2.attach_volume(VolumeId=busy_vol, InstanceId=instance["InstanceId"], Device="/dev/sdf")
    busy_eip = ec2.allocate_address(
        Domain="vpc", TagSpecifications=_spec("elastic-ip", {f"kubernetes.io/cluster/{cluster}": "owned"})
    )["AllocationId"]
    ec2.associate_address(AllocationId=busy_eip, InstanceId=instance["InstanceId"])
    shared_sg = ec2.create_security_group(
        GroupName="vpc-shared",
        Description="Terraform-managed, shared with the cluster",
        VpcId=vpc,
        TagSpecifications=_spec("security-group", {f"kubernetes.io/cluster/{cluster}": "shared"}),
    )["GroupId"]
    two_clusters_vol = ec2.create_volume(
        Size=1,
        AvailabilityZone=f"{zone_prefix}a",
        TagSpecifications=_spec(
            "volume", {f"kubernetes.io/cluster/{cluster}": "owned", "kubernetes.io/cluster/other": "owned"}
        ),
    )["VolumeId"]
    out.skipped |= {
        ("volume", busy_vol),
        ("elastic-ip", busy_eip),
        ("security-group", shared_sg),
        ("volume", two_clusters_vol),
    }
    return out


def existing(clients: Clients) -> set[tuple[str, str]]:
    """Every (kind, id) that exists now, for before/after comparisons."""
    ec2, elbv2 = clients.ec2, clients.elbv2
    found = _existing_more_kinds(clients)
    found |= {("load-balancer", x["LoadBalancerArn"]) for x in elbv2.describe_load_balancers()["LoadBalancers"]}
    found |= {("target-group", x["TargetGroupArn"]) for x in elbv2.describe_target_groups()["TargetGroups"]}
    for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
        listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        found |= {("listener", x["ListenerArn"]) for x in listeners}
    enis = ec2.describe_network_interfaces()["NetworkInterfaces"]
    found |= {("network-interface", x["NetworkInterfaceId"]) for x in enis}
    found |= {("security-group", x["GroupId"]) for x in ec2.describe_security_groups()["SecurityGroups"]}
    found |= {("volume", x["VolumeId"]) for x in ec2.describe_volumes()["Volumes"]}
    found |= {("elastic-ip", x["AllocationId"]) for x in ec2.describe_addresses()["Addresses"]}
    return found


def _trust(issuer_host: str | None = None) -> str:
    """A role trust policy: EC2 for node roles, or IRSA through an EKS OIDC provider."""
    if issuer_host is None:
        principal: dict[str, str] = {"Service": "ec2.amazonaws.com"}
    else:
        principal = {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer_host}"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# A permissions policy for the managed and inline policies a node role carries.
READ_ONLY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
)


def seed_more_kinds(c: Clients, cluster: str, out: Seeded, zone_prefix: str = "eu-west-2") -> None:
    """Karpenter nodes and launch templates, a classic ELB, snapshots, log groups, OIDC providers, roles."""
    owned = {f"kubernetes.io/cluster/{cluster}": "owned"}
    region = zone_prefix

    def instance(tags: dict[str, str]) -> str:
        spec = {"TagSpecifications": _spec("instance", tags)} if tags else {}
        run = c.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=out.subnet, **spec)
        instance_id: str = run["Instances"][0]["InstanceId"]
        return instance_id

    node = instance({"karpenter.sh/nodepool": "default", **owned, "Name": "karpenter-node"})
    discovered = instance({"karpenter.k8s.aws/ec2nodeclass": "default", "karpenter.sh/discovery": cluster})
    # A PVC volume still attached to a Karpenter node: freed when the node terminates, then deleted.
    pvc_tags = {**owned, "kubernetes.io/created-for/pvc/name": "data-0", "kubernetes.io/created-for/pvc/namespace": "q"}
    pvc = c.ec2.create_volume(Size=2, AvailabilityZone=f"{zone_prefix}a", TagSpecifications=_spec("volume", pvc_tags))
    c.ec2.attach_volume(VolumeId=pvc["VolumeId"], InstanceId=node, Device="/dev/sdg")
    template = c.ec2.create_launch_template(
        LaunchTemplateName=f"karpenter.k8s.aws/{cluster}-default",
        LaunchTemplateData={"ImageId": "ami-12c6146b"},
        TagSpecifications=_spec("launch-template", {"karpenter.k8s.aws/ec2nodeclass": "default", **owned}),
    )["LaunchTemplate"]["LaunchTemplateId"]
    listeners = [{"Protocol": "tcp", "LoadBalancerPort": 80, "InstancePort": 30080}]
    zones = [f"{zone_prefix}a"]
    c.elb.create_load_balancer(
        LoadBalancerName=f"a{cluster}svc", Listeners=listeners, AvailabilityZones=zones, Tags=_tags(owned)
    )
    source = c.ec2.create_volume(Size=1, AvailabilityZone=f"{zone_prefix}a")["VolumeId"]
    csi = {**owned, "ebs.csi.aws.com/cluster": "true", "CSIVolumeSnapshotName": "snapshot-data-0"}
    snapshot = c.ec2.create_snapshot(VolumeId=source, TagSpecifications=_spec("snapshot", csi))["SnapshotId"]
    control_plane = f"/aws/eks/{cluster}/cluster"
    c.logs.create_log_group(logGroupName=control_plane)  # EKS does not tag it: found by its name
    insights = f"/aws/containerinsights/{cluster}/application"
    c.logs.create_log_group(logGroupName=insights, tags=owned)
    issuer = f"oidc.eks.{region}.amazonaws.com/id/{cluster.upper()}0001"
    provider = c.iam.create_open_id_connect_provider(
        Url=f"https://{issuer}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40], Tags=_tags(owned)
    )["OpenIDConnectProviderArn"]
    role = f"{cluster}-karpenter-node"
    c.iam.create_role(RoleName=role, AssumeRolePolicyDocument=_trust(), Tags=_tags(owned))
    policy = c.iam.create_policy(PolicyName=f"{cluster}-extra", PolicyDocument=READ_ONLY)["Policy"]["Arn"]
    c.iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    c.iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=READ_ONLY)
    c.iam.create_instance_profile(InstanceProfileName=f"{cluster}-node-profile")
    c.iam.add_role_to_instance_profile(InstanceProfileName=f"{cluster}-node-profile", RoleName=role)
    irsa = f"{cluster}-lb-controller"
    c.iam.create_role(RoleName=irsa, AssumeRolePolicyDocument=_trust(issuer), Tags=_tags({"eks:cluster-name": cluster}))
    out.orphans |= {
        ("instance", node),
        ("instance", discovered),
        ("volume", pvc["VolumeId"]),
        ("launch-template", template),
        ("classic-load-balancer", f"a{cluster}svc"),
        ("snapshot", snapshot),
        ("log-group", control_plane),
        ("log-group", insights),
        ("oidc-provider", provider),
        ("iam-role", role),
        ("iam-role", irsa),
    }

    # Tagged for the cluster but not this cleanup's to delete.
    node_group_node = instance(owned)  # no Karpenter tag: its managed node group or Terraform owns it
    elsewhere = "oidc.eks.us-east-1.amazonaws.com/id/SAMENAME"
    remote_provider = c.iam.create_open_id_connect_provider(
        Url=f"https://{elsewhere}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["8" * 40], Tags=_tags(owned)
    )["OpenIDConnectProviderArn"]
    remote_role = f"{cluster}-us-east-1-irsa"
    c.iam.create_role(RoleName=remote_role, AssumeRolePolicyDocument=_trust(elsewhere), Tags=_tags(owned))
    out.skipped |= {("instance", node_group_node), ("oidc-provider", remote_provider), ("iam-role", remote_role)}

    # Lookalikes: untagged, or another cluster's, or a near name.
    other = {f"kubernetes.io/cluster/{cluster}-2": "owned"}
    c.iam.create_role(RoleName="untagged-role", AssumeRolePolicyDocument=_trust())
    c.iam.create_role(RoleName=f"{cluster}-2-node", AssumeRolePolicyDocument=_trust(), Tags=_tags(other))
    c.logs.create_log_group(logGroupName=f"/aws/eks/{cluster}-2/cluster")
    c.elb.create_load_balancer(LoadBalancerName="untagged-classic", Listeners=listeners, AvailabilityZones=zones)
    other_snapshot = c.ec2.create_snapshot(VolumeId=source, TagSpecifications=_spec("snapshot", other))["SnapshotId"]
    plain_template = c.ec2.create_launch_template(LaunchTemplateName="plain", LaunchTemplateData={})["LaunchTemplate"]
    other_node = instance({"karpenter.sh/nodepool": "default", **other})
    plain_provider = c.iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["7" * 40]
    )["OpenIDConnectProviderArn"]
    out.survivors |= {
        ("iam-role", "untagged-role"),
        ("iam-role", f"{cluster}-2-node"),
        ("log-group", f"/aws/eks/{cluster}-2/cluster"),
        ("classic-load-balancer", "untagged-classic"),
        ("snapshot", other_snapshot),
        ("launch-template", plain_template["LaunchTemplateId"]),
        ("instance", other_node),
        ("oidc-provider", plain_provider),
        ("volume", source),
    }


def _existing_more_kinds(c: Clients) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for reservation in c.ec2.describe_instances()["Reservations"]:
        live = [i for i in reservation["Instances"] if i["State"]["Name"] != "terminated"]
        found |= {("instance", i["InstanceId"]) for i in live}
    templates = c.ec2.describe_launch_templates()["LaunchTemplates"]
    found |= {("launch-template", t["LaunchTemplateId"]) for t in templates}
    classic = c.elb.describe_load_balancers()["LoadBalancerDescriptions"]
    found |= {("classic-load-balancer", lb["LoadBalancerName"]) for lb in classic}
    found |= {("snapshot", s["SnapshotId"]) for s in c.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    found |= {("log-group", g["logGroupName"]) for g in c.logs.describe_log_groups()["logGroups"]}
    providers = c.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    found |= {("oidc-provider", p["Arn"]) for p in providers}
    found |= {("iam-role", r["RoleName"]) for r in c.iam.list_roles()["Roles"]}
    return found


if __name__ == "__main__":
    # Seed a running moto_server so `fleet cleanup` can be tried by hand (docs/fleet.md shows the output):
    #   moto_server -H 127.0.0.1 -p 5055 &
    #   AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x python tools/fleet/tests/cleanup_seed.py http://127.0.0.1:5055
    import sys

    endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5055"
    cluster = sys.argv[2] if len(sys.argv) > 2 else "staging"
    made = seed(Clients.make("eu-west-2", endpoint), cluster)
    print(f"seeded {len(made.orphans)} orphans, {len(made.skipped)} to skip, {len(made.survivors)} lookalikes")
