"""The `platform-secrets` check: every AWS secret a cluster's ExternalSecrets read is one that Terraform creates.

An ExternalSecret whose remote key does not exist fails only on a live cluster: external-secrets reports
SecretSyncedError and the pod that mounts the Secret waits in ContainerCreating. So, for each cluster that
Terraform has an environment for:

- the reads come from the rendered tree (render.py, cluster-vars substituted): each ExternalSecret whose store
  (a SecretStore or ClusterSecretStore of the same cluster) uses `provider.aws` with `service: SecretsManager`,
  its `spec.data[].remoteRef.key` and `spec.dataFrom[].extract.key`;
- the secrets come from infrastructure/permanent/secrets.tf: `platform/<env>/<name>` for each env in
  `var.environments`' default and each name in `local.generated_secret_names` and `local.operator_secret_names`.

A read of a path Terraform does not create is an error, and so is one outside `platform/<cluster>/`, which is all
that cluster's external-secrets role may read (modules/cluster/pod-identities.tf). A secret no cluster reads is a
warning: it costs $0.40 a month and says nothing.

The kind cluster's store is external-secrets' `fake` provider, which answers only the keys in its own
`spec.provider.fake.data`; a read of any other key is an error too (the local stack would wait on that Secret).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fleet.terraform_hcl import INFRA_DIR, TfTree, load_tree
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.render import RenderedObject, rendered_objects
from fleet.validate.shapes import as_dict, as_list

SECRETS_STACK = "permanent"
SECRETS_FILE = f"{INFRA_DIR}/{SECRETS_STACK}/secrets.tf"
NAME_LOCALS = ("generated_secret_names", "operator_secret_names")
STORE_KINDS = ("SecretStore", "ClusterSecretStore")


@dataclass(frozen=True)
class SecretRead:
    cluster: str
    path: str
    where: str  # the ExternalSecret, as render.py names it


def terraform_secrets(tree: TfTree) -> tuple[set[str], list[str]]:
    """Every platform/<env>/<name> the secrets stack creates, and why it could not be worked out (if so)."""
    stack = tree.dirs.get((tree.root / INFRA_DIR / SECRETS_STACK).resolve())
    if stack is None:
        return set(), [f"{INFRA_DIR}/{SECRETS_STACK}: no Terraform, so no cluster's secrets exist"]
    envs = stack.variables.get("environments")
    environments = as_list(envs.body.get("default")) if envs else []
    names = [n for local in NAME_LOCALS for n in as_list(stack.locals.get(local))]
    missing = [f"local.{local}" for local in NAME_LOCALS if not isinstance(stack.locals.get(local), list)]
    if not environments:
        missing.append("var.environments (a list default)")
    if missing:
        return set(), [f"{SECRETS_FILE}: cannot find {', '.join(missing)}, which name the secrets"]
    return {f"platform/{env}/{name}" for env in environments for name in names}, []


def _aws_stores(objects: Iterable[RenderedObject]) -> set[tuple[str | None, str, str | None]]:
    """(cluster, store name, namespace or None for a ClusterSecretStore) of each AWS Secrets Manager store."""
    stores = set()
    for obj in objects:
        aws = as_dict(as_dict(as_dict(obj.doc.get("spec")).get("provider")).get("aws"))
        if obj.kind in STORE_KINDS and aws.get("service") == "SecretsManager":
            namespace = obj.namespace if obj.kind == "SecretStore" else None
            stores.add((obj.target.cluster, obj.name, namespace))
    return stores


def _fake_stores(objects: Iterable[RenderedObject]) -> dict[tuple[str | None, str, str | None], set[str]]:
    """The keys each `fake` provider store answers, by (cluster, store name, namespace or None)."""
    stores: dict[tuple[str | None, str, str | None], set[str]] = {}
    for obj in objects:
        fake = as_dict(as_dict(as_dict(obj.doc.get("spec")).get("provider")).get("fake"))
        if obj.kind in STORE_KINDS and "data" in fake:
            namespace = obj.namespace if obj.kind == "SecretStore" else None
            keys = {str(as_dict(d).get("key")) for d in as_list(fake.get("data"))}
            stores.setdefault((obj.target.cluster, obj.name, namespace), set()).update(keys)
    return stores


def secret_reads(
    objects: list[RenderedObject], stores: set[tuple[str | None, str, str | None]] | None = None
) -> list[SecretRead]:
    """Each (cluster, path) an ExternalSecret reads through one of `stores` (default: the AWS Secrets Manager
    ones), once per cluster even if two targets render it."""
    stores = _aws_stores(objects) if stores is None else stores
    reads: dict[tuple[str, str, str], SecretRead] = {}
    for obj in objects:
        spec = as_dict(obj.doc.get("spec"))
        store = as_dict(spec.get("secretStoreRef"))
        kind = store.get("kind", "SecretStore")
        scope = obj.namespace if kind == "SecretStore" else None
        if obj.kind != "ExternalSecret" or obj.target.cluster is None:
            continue
        if (obj.target.cluster, store.get("name"), scope) not in stores:
            continue  # another provider, or no store: the schema checks say so
        keys = [as_dict(d.get("remoteRef")).get("key") for d in map(as_dict, as_list(spec.get("data")))]
        keys += [as_dict(d.get("extract")).get("key") for d in map(as_dict, as_list(spec.get("dataFrom")))]
        where = f"{obj.target.cluster}: ExternalSecret {obj.namespace}/{obj.name}"
        for key in keys:
            if isinstance(key, str):
                reads.setdefault((obj.target.cluster, where, key), SecretRead(obj.target.cluster, key, where))
    return list(reads.values())


def compare(created: set[str], reads: list[SecretRead]) -> tuple[list[str], list[str]]:
    """Errors for reads of secrets that Terraform does not create or that the cluster may not read; warnings
    for created secrets nobody reads (only for clusters with reads, so a cluster not in the tree is not blamed)."""
    errors = []
    for read in sorted(reads, key=lambda r: (r.cluster, r.where, r.path)):
        prefix = f"platform/{read.cluster}/"
        if not read.path.startswith(prefix):
            errors.append(f"{read.where} reads {read.path!r}, outside {prefix}, which its external-secrets may read")
        elif read.path not in created:
            errors.append(f"{read.where} reads {read.path!r}, which {SECRETS_FILE} does not create")
    read_paths = {r.path for r in reads}
    clusters = {r.cluster for r in reads}
    unread = sorted(p for p in created - read_paths if p.split("/")[1] in clusters)
    warnings = [f"{SECRETS_FILE}: {path} is created but no ExternalSecret reads it" for path in unread]
    return errors, warnings


def fake_store_findings(objects: list[RenderedObject]) -> tuple[list[str], int]:
    """Errors for reads through a `fake` store of keys it does not hold, and how many reads were compared."""
    stores = _fake_stores(objects)
    errors = []
    reads = secret_reads(objects, set(stores))
    for read in sorted(reads, key=lambda r: (r.cluster, r.where, r.path)):
        held = set().union(*(keys for (cluster, _, _), keys in stores.items() if cluster == read.cluster))
        if read.path not in held:
            errors.append(f"{read.where} reads {read.path!r}, which no fake store of the cluster holds")
    return errors, len(reads)


class PlatformSecretsCheck(Check):
    name = "platform-secrets"
    description = (
        "every AWS Secrets Manager path a cluster's ExternalSecrets read is a secret infrastructure/permanent "
        "creates, under that cluster's platform/<env>/; a fake store (kind) holds every key read through it"
    )

    def run(self, ctx: Context) -> CheckResult:
        objects = rendered_objects(ctx.root)
        # Without infrastructure/ there is no Terraform to hold the AWS reads against (a k8s-only tree).
        reads = secret_reads(objects) if (ctx.root / INFRA_DIR).is_dir() else []
        fake_errors, fake_reads = fake_store_findings(objects)
        if not reads and not fake_reads:
            return CheckResult.from_findings(self.name, "no ExternalSecret reads a secret store", [], [], 0)
        errors: list[str] = []
        warnings: list[str] = []
        if reads:
            tree = load_tree(ctx.root)
            created, problems = terraform_secrets(tree)
            errors, warnings = compare(created, reads) if not problems else ([], [])
            errors = problems + errors + tree.errors
        clusters = ", ".join(sorted({r.cluster for r in reads})) or "no cluster"
        summary = f"{len(reads)} AWS read(s) of {len({r.path for r in reads})} path(s) in {clusters}"
        summary += f", {fake_reads} fake-store read(s)"
        return CheckResult.from_findings(self.name, summary, errors + fake_errors, warnings, len(reads) + fake_reads)
