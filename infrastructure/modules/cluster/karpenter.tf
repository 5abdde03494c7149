# Karpenter's AWS side: the controller role (Pod Identity, karpenter/karpenter), the node role that
# EC2NodeClass.spec.role names (cluster-vars KARPENTER_NODE_ROLE), the interruption SQS queue named after the
# cluster (HelmRelease settings.interruptionQueue: ${CLUSTER_NAME}) and the EventBridge rules feeding it.

module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "21.19.0"

  cluster_name = module.eks.cluster_name

  namespace                       = "karpenter"
  service_account                 = "karpenter"
  create_pod_identity_association = true

  iam_role_name                     = "${var.cluster_name}-karpenter"
  iam_role_use_name_prefix          = false
  iam_policy_name                   = "${var.cluster_name}-karpenter"
  iam_policy_use_name_prefix        = false
  iam_role_permissions_boundary_arn = local.boundary_arn

  node_iam_role_name                 = "KarpenterNodeRole-${var.cluster_name}"
  node_iam_role_use_name_prefix      = false
  node_iam_role_permissions_boundary = local.boundary_arn

  enable_spot_termination   = true
  queue_name                = var.cluster_name
  queue_managed_sse_enabled = true
}
