# One output per key of k8s/clusters/<env>/cluster-vars.yaml that Terraform knows, plus what operators need.

output "cluster_name" {
  description = "EKS cluster name (cluster-vars CLUSTER_NAME)."
  value       = module.eks.cluster_name
}

output "environment" {
  description = "Environment name (cluster-vars ENVIRONMENT)."
  value       = var.environment
}

output "region" {
  description = "AWS region (cluster-vars AWS_REGION)."
  value       = var.region
}

output "account_id" {
  description = "AWS account ID (cluster-vars AWS_ACCOUNT_ID)."
  value       = local.account_id
}

output "image_registry" {
  description = "ECR registry host (cluster-vars IMAGE_REGISTRY)."
  value       = "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com"
}

output "karpenter_node_role_name" {
  description = "IAM role of Karpenter's nodes (cluster-vars KARPENTER_NODE_ROLE)."
  value       = module.karpenter.node_iam_role_name
}

output "karpenter_interruption_queue_name" {
  description = "SQS interruption queue (Karpenter settings.interruptionQueue = CLUSTER_NAME)."
  value       = module.karpenter.queue_name
}

output "cloudwatch_log_group" {
  description = "Fluent Bit's log group (cluster-vars CLOUDWATCH_LOG_GROUP)."
  value       = aws_cloudwatch_log_group.containers.name
}

output "secrets_path_prefix" {
  description = "Secrets Manager prefix external-secrets may read (cluster-vars LH_API_KEY_SECRET_PATH lives under it)."
  value       = "platform/${var.environment}/"
}

output "kubernetes_version" {
  description = "EKS Kubernetes version."
  value       = module.eks.cluster_version
}

output "cluster_endpoint" {
  description = "EKS API server endpoint."
  value       = module.eks.cluster_endpoint
}

output "vpc_id" {
  description = "VPC ID."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnet IDs (tagged karpenter.sh/discovery)."
  value       = module.vpc.private_subnets
}

output "pod_identity_role_arns" {
  description = "IAM role ARN per namespace/serviceaccount."
  value = {
    "flux-system/image-reflector-controller"   = module.image_reflector_pod_identity.role_arn
    "external-secrets/external-secrets"        = module.external_secrets_pod_identity.role_arn
    "logging/fluent-bit"                       = module.fluent_bit_pod_identity.role_arn
    "kube-system/aws-load-balancer-controller" = module.aws_load_balancer_controller_pod_identity.role_arn
    "kube-system/ebs-csi-controller-sa"        = module.ebs_csi_pod_identity.role_arn
    "karpenter/karpenter"                      = module.karpenter.iam_role_arn
  }
}

output "budget_name" {
  description = "AWS Budgets budget name."
  value       = aws_budgets_budget.monthly.name
}
