# github-plan (pull requests, read-only), github-apply (the staging/production GitHub environments, which allow
# only main and require approval) and github-ecr-push (version tags). All carry platform-ci-boundary.

data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
  }

  # No writes at all, not even lock files: pull-request code runs with this role, and a role that may delete
  # <key>.tflock could break the lock an apply holds. Plans therefore run with -lock=false (infra-plan.yml); a
  # plan changes no state.
}

data "aws_iam_policy_document" "apply" {
  #checkov:skip=CKV_AWS_111:The apply role creates VPCs, clusters, queues and keys whose ARNs exist only after creation; every IAM write is scoped to platform names and role creation requires the boundary
  #checkov:skip=CKV_AWS_356:"*" is used only for non-IAM actions on resources created at apply time (ARNs unknown in advance); IAM actions are name-scoped
  statement {
    sid       = "PlatformRead"
    actions   = local.platform_read_actions
    resources = ["*"]
  }

  statement {
    sid       = "PlatformWrite"
    actions   = local.platform_write_actions
    resources = ["*"]
  }

  statement {
    sid       = "ClusterStateReadWrite"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.state.arn}/staging/*", "${aws_s3_bucket.state.arn}/production/*"]
  }

  statement {
    sid       = "StateBucketList"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "PermanentStateRead"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/permanent/*"]
  }

  # Roles may be created only with the boundary attached (and the boundary denies the rest).
  statement {
    sid       = "CreatePlatformRolesWithBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = local.platform_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.boundary.arn]
    }
  }

  statement {
    sid       = "ManagePlatformRoles"
    actions   = [for a in local.iam_role_write_actions : a if !contains(["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PassRole"], a)]
    resources = local.platform_role_arns
  }

  # PassRole only to the services that run the platform's roles.
  statement {
    sid       = "PassPlatformRoles"
    actions   = ["iam:PassRole"]
    resources = local.platform_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com", "eks.amazonaws.com", "pods.eks.amazonaws.com", "vpc-flow-logs.amazonaws.com"]
    }
  }

  statement {
    sid       = "ManagePlatformPolicies"
    actions   = local.iam_policy_write_actions
    resources = local.platform_policy_arns
  }

  statement {
    sid       = "ManageInstanceProfiles"
    actions   = local.iam_instance_profile_actions
    resources = ["arn:${local.partition}:iam::${local.account_id}:instance-profile/*"]
  }

  statement {
    sid       = "CreateServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = local.service_linked_role_services
    }
  }
}

data "aws_iam_policy_document" "ecr_push" {
  # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*" for it. It returns a login
  # token; what the token may do is limited by the next statement.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushAppImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.app.arn]
  }
}

module "github_plan_role" {
  source = "../modules/github-oidc-role"

  role_name                = "github-plan"
  description              = "terraform plan from pull requests of ${var.github_repository} (read-only)"
  oidc_provider_arn        = aws_iam_openid_connect_provider.github.arn
  subjects                 = ["${local.repo_sub}:pull_request"]
  permissions_boundary_arn = aws_iam_policy.boundary.arn
  policy_json              = data.aws_iam_policy_document.plan.json
  managed_policy_arns      = ["arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"]
}

module "github_apply_role" {
  source = "../modules/github-oidc-role"

  role_name         = "github-apply"
  description       = "terraform apply/destroy of staging and production from ${var.github_repository}'s protected environments"
  oidc_provider_arn = aws_iam_openid_connect_provider.github.arn
  # Environment subjects only: the environments admit only main and require a reviewer, so no branch or
  # pull request can assume this role.
  subjects                 = ["${local.repo_sub}:environment:staging", "${local.repo_sub}:environment:production"]
  permissions_boundary_arn = aws_iam_policy.boundary.arn
  policy_json              = data.aws_iam_policy_document.apply.json
  max_session_duration     = 7200 # a destroy or rebuild with cleanup can outlast one hour
}

module "github_ecr_push_role" {
  source = "../modules/github-oidc-role"

  role_name         = "github-ecr-push"
  description       = "push ${var.ecr_repository_name} images from ${var.github_repository}'s version tags"
  oidc_provider_arn = aws_iam_openid_connect_provider.github.arn
  # StringLike only for the tag pattern; nothing else in the sub may vary.
  subjects                 = ["${local.repo_sub}:ref:refs/tags/v*"]
  subject_match            = "StringLike"
  permissions_boundary_arn = aws_iam_policy.boundary.arn
  policy_json              = data.aws_iam_policy_document.ecr_push.json
}
