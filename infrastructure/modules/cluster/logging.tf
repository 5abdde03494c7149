# Fluent Bit ships container logs here (cluster-vars CLOUDWATCH_LOG_GROUP). Terraform owns the group so its
# retention is set and the nightly destroy removes it with everything else.
resource "aws_cloudwatch_log_group" "containers" {
  #checkov:skip=CKV_AWS_338:Container logs are operational, not audit records; retention is var.log_retention_days (30 by default) to keep CloudWatch cost in line with a nightly-destroyed cluster
  name              = "/${var.cluster_name}/containers"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}
