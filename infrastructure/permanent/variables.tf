variable "region" {
  description = "AWS region of the state bucket, ECR and the clusters."
  type        = string
  default     = "eu-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the CI roles, as org/repo."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$", var.github_repository))
    error_message = "github_repository must be org/repo (letters, digits, '-', '_', '.')."
  }
}

variable "state_bucket_name" {
  description = "Globally unique name of the S3 bucket holding every stack's Terraform state."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name)) && !strcontains(var.state_bucket_name, "..")
    error_message = "state_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "ecr_repository_name" {
  description = "ECR repository for the application image."
  type        = string
  default     = "load-harness"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]{1,255}$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be a valid ECR repository name."
  }
}

variable "ecr_keep_tagged_images" {
  description = "How many v* tagged images the ECR lifecycle policy keeps (older ones expire)."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_keep_tagged_images >= 5 && var.ecr_keep_tagged_images <= 1000
    error_message = "ecr_keep_tagged_images must be between 5 and 1000."
  }
}

variable "ecr_untagged_expiry_days" {
  description = "Days after which untagged images (failed or superseded pushes) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.ecr_untagged_expiry_days >= 1 && var.ecr_untagged_expiry_days <= 365
    error_message = "ecr_untagged_expiry_days must be between 1 and 365."
  }
}

variable "state_noncurrent_version_days" {
  description = "Days to keep superseded state versions (the undo history of every stack)."
  type        = number
  default     = 90

  validation {
    condition     = var.state_noncurrent_version_days >= 30 && var.state_noncurrent_version_days <= 3650
    error_message = "state_noncurrent_version_days must be between 30 and 3650."
  }
}

variable "environments" {
  description = "Environments whose Secrets Manager secrets (platform/<env>/...) this stack creates."
  type        = list(string)
  default     = ["staging", "production"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for env in var.environments : can(regex("^[a-z][a-z0-9-]{0,30}$", env))])
    error_message = "environments must be lowercase names (letters, digits, '-'), at least one."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted platform secret can still be restored (Secrets Manager allows 7 to 30)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30
    error_message = "secret_recovery_window_days must be between 7 and 30."
  }
}

variable "generated_secret_version" {
  description = "Raise by one to write new random values into every generated secret (the API keys and Flagger tokens)."
  type        = number
  default     = 1

  validation {
    condition     = var.generated_secret_version >= 1 && floor(var.generated_secret_version) == var.generated_secret_version
    error_message = "generated_secret_version must be a whole number, 1 or more."
  }
}
