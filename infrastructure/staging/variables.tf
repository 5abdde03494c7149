variable "region" {
  description = "AWS region of the staging cluster."
  type        = string
  default     = "eu-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version, in standard support (fleet eks status --from-terraform infrastructure/staging)."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version)) && try(tonumber(split(".", var.kubernetes_version)[1]) >= 35, false)
    error_message = "kubernetes_version must be a minor version like 1.35, and 1.35 or newer."
  }
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint (CI sets TF_VAR_admin_cidrs from vars.ADMIN_CIDRS). Required: no default, 0.0.0.0/0 rejected."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0)) && try(tonumber(split("/", cidr)[1]) >= 8, false)])
    error_message = "admin_cidrs must be a non-empty list of IPv4 CIDRs of /8 or longer (never 0.0.0.0/0)."
  }
}

variable "admin_role_arns" {
  description = "Human IAM role ARNs given cluster-admin access entries (the github-apply role is always added). Roles only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", arn))])
    error_message = "admin_role_arns must hold IAM role ARNs, not users."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly AWS Budgets limit for staging in USD."
  type        = number
  default     = 150

  validation {
    condition     = var.monthly_budget_usd > 0 && var.monthly_budget_usd <= 10000
    error_message = "monthly_budget_usd must be above 0 and at most 10000."
  }
}

variable "budget_alert_emails" {
  description = "Addresses for the budget alarm (80 % actual, 100 % forecast)."
  type        = list(string)

  validation {
    condition     = length(var.budget_alert_emails) > 0 && alltrue([for e in var.budget_alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "budget_alert_emails must be a non-empty list of email addresses."
  }
}
