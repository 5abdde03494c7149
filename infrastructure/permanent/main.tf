# Account-wide pieces that outlive the nightly destroy: ECR (ecr.tf), the state bucket (state.tf), GitHub's OIDC
# provider (github-oidc.tf), the permissions boundary (iam-boundary.tf), the three CI roles (ci-roles.tf) and every
# environment's Secrets Manager secrets (secrets.tf).
# Applied by a human administrator, never by CI: the CI roles cannot change themselves.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  repo_sub   = "repo:${var.github_repository}"
}
