# Values for k8s/clusters/production/cluster-vars.yaml (the key each output fills is in its description).

output "cluster_name" {
  description = "CLUSTER_NAME"
  value       = module.cluster.cluster_name
}

output "environment" {
  description = "ENVIRONMENT"
  value       = module.cluster.environment
}

output "region" {
  description = "AWS_REGION"
  value       = module.cluster.region
}

output "account_id" {
  description = "AWS_ACCOUNT_ID"
  value       = module.cluster.account_id
}

output "image_registry" {
  description = "IMAGE_REGISTRY"
  value       = module.cluster.image_registry
}

output "karpenter_node_role_name" {
  description = "KARPENTER_NODE_ROLE"
  value       = module.cluster.karpenter_node_role_name
}

output "karpenter_interruption_queue_name" {
  description = "Karpenter settings.interruptionQueue (equals CLUSTER_NAME)"
  value       = module.cluster.karpenter_interruption_queue_name
}

output "cloudwatch_log_group" {
  description = "CLOUDWATCH_LOG_GROUP"
  value       = module.cluster.cloudwatch_log_group
}

output "secrets_path_prefix" {
  description = "Prefix of LH_API_KEY_SECRET_PATH (Secrets Manager paths external-secrets may read)"
  value       = module.cluster.secrets_path_prefix
}

output "kubernetes_version" {
  description = "EKS Kubernetes version"
  value       = module.cluster.kubernetes_version
}

output "cluster_endpoint" {
  description = "EKS API server endpoint"
  value       = module.cluster.cluster_endpoint
}

output "pod_identity_role_arns" {
  description = "IAM role ARN per namespace/serviceaccount"
  value       = module.cluster.pod_identity_role_arns
}
