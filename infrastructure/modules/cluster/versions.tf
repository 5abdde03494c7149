terraform {
  required_version = ">= 1.10, < 2.0"

  required_providers {
    # The pinned eks (21.19.0) and vpc (6.6.0) modules require hashicorp/aws >= 6.28.
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
  }
}
