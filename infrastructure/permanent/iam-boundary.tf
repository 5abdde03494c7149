# platform-ci-boundary: the ceiling on every CI role (github-*) and on every role the stacks create (platform-*,
# KarpenterNodeRole-*). The apply role may create roles only when they carry this boundary, so no role it makes
# can do more than this policy allows, and this policy cannot be edited or removed from below.
#
# Actions use verb prefixes (ec2:Describe*, ec2:Create*) for the services the clusters run on, never a whole
# service (no "ec2:*", no "iam:*"); IAM writes are limited to the platform's own role, policy and instance
# profile names. A managed policy holds at most 6,144 characters, so the lists stay compact.

locals {
  platform_role_arns = [
    "arn:${local.partition}:iam::${local.account_id}:role/platform-*",
    "arn:${local.partition}:iam::${local.account_id}:role/KarpenterNodeRole-*",
  ]
  platform_policy_arns = ["arn:${local.partition}:iam::${local.account_id}:policy/platform-*"]
  boundary_arn         = "arn:${local.partition}:iam::${local.account_id}:policy/platform-ci-boundary"

  # Read access across what the stacks and their controllers touch (plan refreshes, controllers discover).
  platform_read_actions = [
    "acm:DescribeCertificate", "acm:ListCertificates",
    "autoscaling:Describe*",
    "budgets:ViewBudget", "budgets:ListTagsForResource",
    "cognito-idp:DescribeUserPoolClient",
    "ec2:Describe*", "ec2:Get*",
    "ecr:Describe*", "ecr:Get*", "ecr:List*", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
    "eks:Describe*", "eks:List*", "eks-auth:AssumeRoleForPodIdentity",
    "elasticloadbalancing:Describe*",
    "events:Describe*", "events:List*",
    "iam:Get*", "iam:List*",
    "kms:Describe*", "kms:Get*", "kms:List*",
    "logs:Describe*", "logs:ListTagsForResource", "logs:ListTagsLogGroup",
    "pricing:GetProducts",
    "shield:DescribeProtection", "shield:GetSubscriptionState",
    "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueues", "sqs:ListQueueTags",
    "ssm:GetParameter", "ssm:GetParameters",
    "sts:GetCallerIdentity",
    "tag:GetResources",
    "waf-regional:GetWebACL", "waf-regional:GetWebACLForResource",
    "wafv2:GetWebACL", "wafv2:GetWebACLForResource",
  ]

  # Writes the stacks make (VPC, EKS, node groups, queues, rules, keys, log groups, budget) and the nightly
  # cleanup deletes. Resource ARNs are created at apply time, so these run on "*"; none is an IAM action.
  platform_write_actions = [
    "autoscaling:UpdateAutoScalingGroup",
    "budgets:ModifyBudget", "budgets:TagResource", "budgets:UntagResource",
    "ec2:Allocate*", "ec2:Assign*", "ec2:Associate*", "ec2:Attach*", "ec2:Authorize*", "ec2:Create*",
    "ec2:Delete*", "ec2:Detach*", "ec2:Disassociate*", "ec2:Modify*", "ec2:Release*", "ec2:Replace*",
    "ec2:Revoke*", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:Unassign*",
    "eks:Associate*", "eks:Create*", "eks:Delete*", "eks:Disassociate*", "eks:TagResource",
    "eks:UntagResource", "eks:Update*",
    "elasticloadbalancing:Add*", "elasticloadbalancing:Create*", "elasticloadbalancing:Delete*",
    "elasticloadbalancing:Deregister*", "elasticloadbalancing:Modify*", "elasticloadbalancing:Register*",
    "elasticloadbalancing:Remove*", "elasticloadbalancing:Set*",
    "events:DeleteRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:TagResource",
    "events:UntagResource",
    "kms:CreateAlias", "kms:CreateGrant", "kms:CreateKey", "kms:Decrypt", "kms:DeleteAlias", "kms:EnableKeyRotation",
    "kms:Encrypt", "kms:GenerateDataKey*", "kms:PutKeyPolicy", "kms:ReEncrypt*", "kms:RetireGrant",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "logs:AssociateKmsKey", "logs:CreateLogDelivery", "logs:CreateLogGroup", "logs:DeleteLogDelivery", "logs:DeleteLogGroup",
    "logs:DeleteRetentionPolicy", "logs:DisassociateKmsKey", "logs:PutRetentionPolicy", "logs:TagLogGroup",
    "logs:TagResource", "logs:UntagLogGroup", "logs:UntagResource",
    "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue",
  ]

  # IAM writes on the platform's own names only (role/platform-*, role/KarpenterNodeRole-*, policy/platform-*).
  iam_role_write_actions = [
    "iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
    "iam:PassRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription",
  ]
  iam_policy_write_actions = [
    "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
    "iam:TagPolicy", "iam:UntagPolicy",
  ]
  # Karpenter creates one instance profile per EC2NodeClass, named after the cluster; EKS creates its
  # service-linked roles on first use.
  iam_instance_profile_actions = [
    "iam:AddRoleToInstanceProfile", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
  ]
  service_linked_role_services = [
    "autoscaling.amazonaws.com", "eks.amazonaws.com", "eks-nodegroup.amazonaws.com",
    "elasticloadbalancing.amazonaws.com", "spot.amazonaws.com",
  ]
}

data "aws_iam_policy_document" "boundary" {
  #checkov:skip=CKV_AWS_111:A permissions boundary is a ceiling, not a grant; its writes on "*" are for resources whose ARNs exist only after creation, and IAM writes are name-scoped
  #checkov:skip=CKV_AWS_356:A permissions boundary is a ceiling, not a grant; "*" appears only where the ARN is created at apply time or the action has no resource-level permissions
  statement {
    sid       = "PlatformRead"
    actions   = local.platform_read_actions
    resources = ["*"]
  }

  statement {
    sid       = "PlatformWrite"
    actions   = concat(local.platform_write_actions, ["shield:CreateProtection", "shield:DeleteProtection", "waf-regional:AssociateWebACL", "waf-regional:DisassociateWebACL", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"])
    resources = ["*"]
  }

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "EcrPushAppRepository"
    actions   = ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
    resources = [aws_ecr_repository.app.arn]
  }

  statement {
    sid       = "PlatformSecretsRead"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:platform/*"]
  }

  statement {
    sid       = "ContainerLogsWrite"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
  }

  statement {
    sid       = "SqsInterruptionQueue"
    actions   = ["sqs:DeleteMessage", "sqs:ReceiveMessage"]
    resources = ["arn:${local.partition}:sqs:${var.region}:${local.account_id}:platform-*"]
  }

  # State objects and lock files, plus the bucket's configuration reads that a plan of permanent/ refreshes.
  statement {
    sid       = "StateBucket"
    actions   = ["s3:DeleteObject", "s3:Get*", "s3:List*", "s3:PutObject"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
  }

  statement {
    sid       = "IamPlatformRoles"
    actions   = local.iam_role_write_actions
    resources = local.platform_role_arns
  }

  statement {
    sid       = "IamPlatformPolicies"
    actions   = local.iam_policy_write_actions
    resources = local.platform_policy_arns
  }

  statement {
    sid       = "IamInstanceProfiles"
    actions   = local.iam_instance_profile_actions
    resources = ["arn:${local.partition}:iam::${local.account_id}:instance-profile/*"]
  }

  statement {
    sid       = "IamServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = local.service_linked_role_services
    }
  }

  # The boundary protects itself: nobody below it may edit it, or create or re-bound a role without it.
  statement {
    sid       = "DenyBoundaryEdit"
    effect    = "Deny"
    actions   = ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
    resources = [local.boundary_arn]
  }

  statement {
    sid       = "DenyRoleWithoutBoundary"
    effect    = "Deny"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = local.platform_role_arns

    condition {
      test     = "StringNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }

  statement {
    sid       = "DenyBoundaryRemoval"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "platform-ci-boundary"
  description = "Permissions boundary for the GitHub CI roles and every role the cluster stacks create."
  policy      = data.aws_iam_policy_document.boundary.json
}
