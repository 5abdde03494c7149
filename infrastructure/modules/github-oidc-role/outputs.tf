output "role_arn" {
  description = "ARN of the role (goes into a repository variable such as AWS_PLAN_ROLE_ARN)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}
