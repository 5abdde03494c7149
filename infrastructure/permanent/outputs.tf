output "state_bucket_name" {
  description = "State bucket for every stack's backend (terraform init -backend-config=bucket=...)."
  value       = aws_s3_bucket.state.bucket
}

output "ecr_repository_url" {
  description = "ECR repository URL (vars.ECR_REPOSITORY is its name)."
  value       = aws_ecr_repository.app.repository_url
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider."
  value       = aws_iam_openid_connect_provider.github.arn
}

output "plan_role_arn" {
  description = "vars.AWS_PLAN_ROLE_ARN"
  value       = module.github_plan_role.role_arn
}

output "apply_role_arn" {
  description = "vars.AWS_APPLY_ROLE_ARN"
  value       = module.github_apply_role.role_arn
}

output "ecr_push_role_arn" {
  description = "vars.AWS_ECR_PUSH_ROLE_ARN"
  value       = module.github_ecr_push_role.role_arn
}

output "permissions_boundary_arn" {
  description = "ARN of platform-ci-boundary."
  value       = aws_iam_policy.boundary.arn
}

output "platform_secret_arns" {
  description = "ARN of each platform/<env>/<name> secret (values are never output; operator secrets start empty)."
  value       = { for path, secret in aws_secretsmanager_secret.platform : path => secret.arn }
}
