terraform {
  # Write-only arguments (secrets.tf: secret_string_wo) need Terraform 1.11 or newer.
  required_version = ">= 1.11, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
  }

  # Bootstrap: the first apply runs with this block commented out (local state), because the bucket does not
  # exist yet; then uncomment it and run terraform init -migrate-state -backend-config="bucket=<state_bucket_name>".
  backend "s3" {
    key          = "permanent/terraform.tfstate"
    region       = "eu-west-2"
    encrypt      = true
    use_lockfile = true
  }
}
