provider "aws" {
  region = var.region

  # Cost allocation tags (activate Project, Environment and CostCenter once in Billing > Cost allocation tags).
  default_tags {
    tags = {
      Project     = "platform"
      Environment = "production"
      ManagedBy   = "terraform"
      CostCenter  = "platform"
    }
  }
}
