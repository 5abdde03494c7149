# One role per controller service account (the names match the HelmReleases in k8s/infrastructure/controllers).
# Every policy names its resources; only the LB controller's published policy keeps "*" on the EC2/ELB actions
# it needs to create resources whose ARNs are unknown in advance (tag conditions limit what it may change).

data "aws_iam_policy_document" "image_reflector" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid       = "ListImageTags"
    actions   = ["ecr:DescribeImages", "ecr:ListImages", "ecr:DescribeRepositories", "ecr:BatchGetImage"]
    resources = ["arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.ecr_repository_name}"]
  }
}

data "aws_iam_policy_document" "external_secrets" {
  statement {
    sid       = "ReadEnvironmentSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:platform/${var.environment}/*"]
  }
}

data "aws_iam_policy_document" "fluent_bit" {
  statement {
    sid = "WriteContainerLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
      "logs:PutRetentionPolicy",
    ]
    resources = [aws_cloudwatch_log_group.containers.arn, "${aws_cloudwatch_log_group.containers.arn}:*"]
  }
}

module "image_reflector_pod_identity" {
  source = "../pod-identity-role"

  cluster_name             = module.eks.cluster_name
  role_name                = "${var.cluster_name}-image-reflector"
  namespace                = "flux-system"
  service_account          = "image-reflector-controller"
  policy_json              = data.aws_iam_policy_document.image_reflector.json
  permissions_boundary_arn = local.boundary_arn
}

module "external_secrets_pod_identity" {
  source = "../pod-identity-role"

  cluster_name             = module.eks.cluster_name
  role_name                = "${var.cluster_name}-external-secrets"
  namespace                = "external-secrets"
  service_account          = "external-secrets"
  policy_json              = data.aws_iam_policy_document.external_secrets.json
  permissions_boundary_arn = local.boundary_arn
}

module "fluent_bit_pod_identity" {
  source = "../pod-identity-role"

  cluster_name             = module.eks.cluster_name
  role_name                = "${var.cluster_name}-fluent-bit"
  namespace                = "logging"
  service_account          = "fluent-bit"
  policy_json              = data.aws_iam_policy_document.fluent_bit.json
  permissions_boundary_arn = local.boundary_arn
}

module "aws_load_balancer_controller_pod_identity" {
  source = "../pod-identity-role"

  cluster_name    = module.eks.cluster_name
  role_name       = "${var.cluster_name}-aws-lb-controller"
  namespace       = "kube-system"
  service_account = "aws-load-balancer-controller"
  # Committed copy of the controller's published policy (source and version in README.md), never fetched at plan time.
  policy_json              = file("${path.module}/policies/aws-load-balancer-controller.json")
  permissions_boundary_arn = local.boundary_arn
}

# The EBS CSI add-on creates its own association (addons.aws-ebs-csi-driver.pod_identity_association in main.tf),
# so this role is made without one. It cannot reference module.eks (the add-on needs this role first): the
# cluster name is known in advance.
module "ebs_csi_pod_identity" {
  source = "../pod-identity-role"

  cluster_name             = var.cluster_name
  role_name                = "${var.cluster_name}-ebs-csi"
  namespace                = "kube-system"
  service_account          = "ebs-csi-controller-sa"
  create_association       = false
  managed_policy_arns      = ["arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
  permissions_boundary_arn = local.boundary_arn
}
