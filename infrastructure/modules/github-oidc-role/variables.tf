variable "role_name" {
  description = "Name of the IAM role (e.g. github-plan)."
  type        = string

  validation {
    condition     = can(regex("^github-[A-Za-z0-9+=,.@_-]{1,57}$", var.role_name))
    error_message = "role_name must start with 'github-' (outside the apply role's writable role/platform-* scope) and be a valid IAM role name."
  }
}

variable "description" {
  description = "What the role is for."
  type        = string

  validation {
    condition     = length(var.description) > 0 && length(var.description) <= 1000
    error_message = "description must be 1-1000 characters."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the token.actions.githubusercontent.com OIDC provider."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be the GitHub Actions OIDC provider's ARN."
  }
}

variable "subjects" {
  description = "Allowed token `sub` claims, e.g. repo:org/repo:pull_request or repo:org/repo:environment:staging."
  type        = list(string)

  validation {
    condition     = length(var.subjects) > 0 && alltrue([for s in var.subjects : can(regex("^repo:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:.+$", s))])
    error_message = "subjects must be non-empty and each must start with repo:<org>/<repo>: (never a bare wildcard)."
  }
}

variable "subject_match" {
  description = "Condition operator for `sub`: StringEquals (exact) or StringLike (only where a tag pattern such as refs/tags/v* is needed)."
  type        = string
  default     = "StringEquals"

  validation {
    condition     = contains(["StringEquals", "StringLike"], var.subject_match)
    error_message = "subject_match must be StringEquals or StringLike."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the role (required: every CI role carries platform-ci-boundary)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be a customer managed policy ARN."
  }
}

variable "policy_json" {
  description = "Inline policy document of the role."
  type        = string

  validation {
    condition     = can(jsondecode(var.policy_json).Statement)
    error_message = "policy_json must be a JSON IAM policy document."
  }
}

variable "managed_policy_arns" {
  description = "AWS managed policies to attach (e.g. ReadOnlyAccess for the plan role)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::aws:policy/.+$", arn))])
    error_message = "managed_policy_arns must be AWS managed policy ARNs."
  }
}

variable "max_session_duration" {
  description = "Maximum session length in seconds (a cluster rebuild takes about 25 minutes)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}
