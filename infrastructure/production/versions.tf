terraform {
  # use_lockfile (native S3 state locking, no DynamoDB table) needs Terraform 1.10 or newer.
  required_version = ">= 1.10, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
    # Used inside the pinned eks module (dataplane wait, OIDC thumbprint); pinned here so init cannot float.
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # The bucket comes from permanent/ (output state_bucket_name); pass it at init time, it is not a secret but is
  # account-specific: terraform init -backend-config="bucket=<state_bucket_name>".
  backend "s3" {
    key          = "production/terraform.tfstate"
    region       = "eu-west-2"
    encrypt      = true
    use_lockfile = true
  }
}
