"""The cluster's IAM OIDC provider and IAM roles, by tag (and the provider also by its URL).

IAM is global while a cluster is regional: a cluster of the same name may live in another region and use
roles tagged with the same name. So an OIDC provider whose URL is an EKS issuer of another region, and a role
that trusts one, are left alone; a role without one of the cluster's tags is never even considered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from fleet.cleanup.aws import Aws, AwsError
from fleet.cleanup.kinds.common import Found, delete_one, judge
from fleet.cleanup.model import Orphan, Outcome, Skipped, Target
from fleet.cleanup.tags import classify, tag_dict

EKS_ISSUER_REGION = re.compile(r"oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com")
GONE_CODE = "NoSuchEntity"


def issuer_host_path(url: str) -> str:
    """IAM stores a provider's URL without the scheme; EKS reports the issuer with it."""
    return url.removeprefix("https://").rstrip("/")


def _other_regions(text: str, region: str) -> list[str]:
    return sorted({r for r in EKS_ISSUER_REGION.findall(text) if r != region})


def find_oidc_providers(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    issuer = issuer_host_path(target.oidc_issuer) if target.oidc_issuer else None
    for entry in aws.call(aws.iam, "list_open_id_connect_providers").get("OpenIDConnectProviderList", []):
        arn = entry["Arn"]
        provider = aws.call(aws.iam, "get_open_id_connect_provider", OpenIDConnectProviderArn=arn)
        url = issuer_host_path(str(provider.get("Url", "")))
        verdict = classify(tag_dict(provider.get("Tags")), target.cluster, "oidc-provider")
        elsewhere = _other_regions(url, target.region)
        if elsewhere and (verdict.mentions_cluster or url == issuer):
            why = f"an EKS issuer of {elsewhere[0]}, not {target.region}: a cluster there may use it"
            yield Skipped("oidc-provider", arn, url, why)
        elif url == issuer and verdict.refusal:
            yield Skipped("oidc-provider", arn, url, verdict.refusal)
        elif url == issuer:
            tag = f"{verdict.reason}; " if verdict.reason else ""
            yield Orphan("oidc-provider", arn, url, f"{tag}URL is the cluster's OIDC issuer")
        else:
            yield from judge("oidc-provider", arn, url, verdict)


def _trust_text(role: dict[str, Any]) -> str:
    document = role.get("AssumeRolePolicyDocument", "")
    # boto3 decodes the URL-encoded JSON into a dict; a raw answer leaves it a string.
    return json.dumps(document) if isinstance(document, dict) else unquote(str(document))


def find_roles(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    for role in aws.paginate(aws.iam, "list_roles", "Roles"):
        name = role["RoleName"]
        # ListRoles leaves tags out, so each role's tags are one more call.
        tags = tag_dict(list(aws.paginate(aws.iam, "list_role_tags", "Tags", RoleName=name)))
        verdict = classify(tags, target.cluster, "iam-role")
        if not verdict.mentions_cluster:
            continue
        blocker = None
        elsewhere = _other_regions(_trust_text(role), target.region)
        if str(role.get("Path", "")).startswith("/aws-service-role/"):
            blocker = "a service-linked role: its AWS service deletes it"
        elif elsewhere:
            blocker = f"trusts the EKS OIDC issuer of {elsewhere[0]}: a cluster of the same name there may use it"
        yield from judge("iam-role", name, str(role.get("Arn", "")), verdict, blocker)


def delete_oidc_providers(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        call = "delete_open_id_connect_provider"
        outcomes.append(delete_one(aws, aws.iam, call, o, GONE_CODE, OpenIDConnectProviderArn=o.id))


def _strip_role(aws: Aws, name: str) -> str:
    """Undo what DeleteRole refuses to delete through: instance-profile links, managed and inline policies."""
    profiles = list(aws.paginate(aws.iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=name))
    for profile in profiles:
        aws.call(
            aws.iam,
            "remove_role_from_instance_profile",
            InstanceProfileName=profile["InstanceProfileName"],
            RoleName=name,
        )
    attached = list(aws.paginate(aws.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name))
    for policy in attached:
        aws.call(aws.iam, "detach_role_policy", RoleName=name, PolicyArn=policy["PolicyArn"])
    inline = list(aws.paginate(aws.iam, "list_role_policies", "PolicyNames", RoleName=name))
    for policy_name in inline:
        aws.call(aws.iam, "delete_role_policy", RoleName=name, PolicyName=policy_name)
    return (
        f"unlinked {len(profiles)} instance profile(s), detached {len(attached)} managed and deleted"
        f" {len(inline)} inline polic(ies)"
    )


def delete_roles(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        try:
            detail = _strip_role(aws, o.id)
            # DeleteConflict is retried: IAM is eventually consistent about the detachments just made.
            aws.call(aws.iam, "delete_role", retry_codes=("DeleteConflict",), RoleName=o.id)
        except AwsError as exc:
            if exc.code != GONE_CODE:
                raise
            outcomes.append(Outcome(o.kind, o.id, "already gone"))
            continue
        outcomes.append(Outcome(o.kind, o.id, "deleted", detail))
