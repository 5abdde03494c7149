variable "cluster_name" {
  description = "Name of the EKS cluster the association belongs to."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be 1-100 letters, digits, '-' or '_', starting with a letter or digit."
  }
}

variable "role_name" {
  description = "Name of the IAM role. It must start with platform- so the apply role's IAM scope (role/platform-*) covers it."
  type        = string

  validation {
    condition     = can(regex("^platform-[A-Za-z0-9+=,.@_-]{1,55}$", var.role_name))
    error_message = "role_name must start with 'platform-' and be at most 64 IAM-legal characters."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the service account."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "service_account" {
  description = "Kubernetes service account that assumes the role through EKS Pod Identity."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.service_account))
    error_message = "service_account must be a DNS-1123 subdomain."
  }
}

variable "create_association" {
  description = "Create the aws_eks_pod_identity_association here; false when an EKS add-on makes its own (its pod_identity_association setting)."
  type        = bool
  default     = true
}

variable "policy_json" {
  description = "Inline policy document (JSON) for the role, scoped to the resources the workload needs; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.policy_json == null || can(jsondecode(var.policy_json).Statement)
    error_message = "policy_json must be a JSON IAM policy document with a Statement."
  }
}

variable "managed_policy_arns" {
  description = "ARNs of managed policies to attach (e.g. an AWS managed policy that AWS keeps current)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+$", arn))])
    error_message = "managed_policy_arns must hold IAM policy ARNs."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of a permissions boundary policy for the role; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be a customer managed IAM policy ARN or null."
  }
}

variable "tags" {
  description = "Extra tags for the role (the provider's default_tags apply as well)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys must be at most 128 characters and values at most 256."
  }
}
