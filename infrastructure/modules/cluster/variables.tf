variable "cluster_name" {
  description = "EKS cluster name; also the Karpenter discovery tag value, the SQS interruption queue name and the prefix of every IAM role this module creates (the apply role may only write role/platform-*)."
  type        = string

  validation {
    # 28 characters at most: the EKS module builds IAM role name prefixes "<name>-cluster-" and those are capped at 38.
    condition     = can(regex("^platform-[a-z0-9-]{1,19}$", var.cluster_name))
    error_message = "cluster_name must be 'platform-' plus 1-19 lowercase letters, digits or '-' (e.g. platform-staging)."
  }
}

variable "environment" {
  description = "Environment name, used in the Secrets Manager path platform/<environment>/*."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "AWS region of the cluster (reported in outputs for cluster-vars AWS_REGION)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version. Keep it in EKS standard support (fleet eks status; calendar tools/fleet/src/fleet/data/eks-versions.yaml): extended support costs 6x."
  type        = string
  default     = "1.35"

  validation {
    # 1.34 leaves standard support on 2026-12-02, so nothing older than 1.35 is accepted.
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version)) && try(tonumber(split(".", var.kubernetes_version)[1]) >= 35, false)
    error_message = "kubernetes_version must be a minor version like 1.35, and 1.35 or newer."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC; subnets are carved from it with cidrsubnet (/20 private, /24 public for a /16)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    # /18 at most: the public subnets are /26 then, the smallest that still leaves an ALB its 8 free addresses.
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 18, false)
    error_message = "vpc_cidr must be a valid IPv4 CIDR between /16 and /18."
  }
}

variable "availability_zone_count" {
  description = "Number of availability zones (the first N of the region)."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3 && floor(var.availability_zone_count) == var.availability_zone_count
    error_message = "availability_zone_count must be 2 or 3 (EKS needs subnets in at least two AZs)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, one AZ's outage cuts egress) instead of one per AZ."
  type        = bool
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint. Required; 0.0.0.0/0 is rejected."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0)) && can(regex("^[0-9.]+/[0-9]+$", cidr))])
    error_message = "admin_cidrs must be a non-empty list of valid IPv4 CIDRs (e.g. 203.0.113.10/32)."
  }

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : try(tonumber(split("/", cidr)[1]) >= 8, false)])
    error_message = "admin_cidrs must not contain 0.0.0.0/0 or any prefix shorter than /8: list the admins' addresses."
  }
}

variable "admin_role_arns" {
  description = "IAM role ARNs given cluster-admin access entries (human SSO/admin roles). IAM users are rejected: use roles."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", arn))])
    error_message = "admin_role_arns must hold IAM role ARNs (arn:aws:iam::<account>:role/<name>), not users."
  }
}

variable "ci_admin_role_name" {
  description = "Name of the CI role (permanent/ stack) that gets a cluster-admin access entry, so the destroy workflow's pre-destroy step can reach the cluster."
  type        = string
  default     = "github-apply"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.ci_admin_role_name))
    error_message = "ci_admin_role_name must be an IAM role name."
  }
}

variable "system_node_instance_types" {
  description = "Instance types of the spot managed node group for system pods; same vCPU/memory so either fits."
  type        = list(string)
  default     = ["t3.large", "t3a.large"]

  validation {
    condition     = length(var.system_node_instance_types) >= 2 && alltrue([for t in var.system_node_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "Give at least two instance types (spot capacity pools), e.g. t3.large and t3a.large."
  }
}

variable "system_node_max_size" {
  description = "Maximum size of the system node group (minimum and desired are 1)."
  type        = number
  default     = 2

  validation {
    condition     = var.system_node_max_size >= 1 && var.system_node_max_size <= 5
    error_message = "system_node_max_size must be between 1 and 5; Karpenter scales the rest."
  }
}

variable "log_retention_days" {
  description = "Retention of the Fluent Bit container log group and the control-plane log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value between 1 and 365."
  }
}

variable "log_kms_key_arn" {
  description = "Optional KMS key ARN to encrypt the container log group; null uses CloudWatch's own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN or null."
  }
}

variable "ecr_repository_name" {
  description = "ECR repository (permanent/ stack) the image reflector may read."
  type        = string
  default     = "load-harness"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]{1,255}$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be a valid ECR repository name."
  }
}

variable "permissions_boundary_name" {
  description = "Name of the permissions boundary policy (permanent/ stack) put on every role this module creates; the apply role may only create roles that carry it."
  type        = string
  default     = "platform-ci-boundary"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,128}$", var.permissions_boundary_name))
    error_message = "permissions_boundary_name must be an IAM policy name."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly AWS Budgets limit in USD for this environment's cost (filtered on the Environment tag)."
  type        = number

  validation {
    condition     = var.monthly_budget_usd > 0 && var.monthly_budget_usd <= 10000
    error_message = "monthly_budget_usd must be above 0 and at most 10000."
  }
}

variable "budget_alert_emails" {
  description = "Addresses notified at 80 % of actual and 100 % of forecast spend."
  type        = list(string)

  validation {
    condition     = length(var.budget_alert_emails) > 0 && alltrue([for e in var.budget_alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "budget_alert_emails must be a non-empty list of email addresses."
  }
}
