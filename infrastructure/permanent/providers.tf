provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "platform"
      Environment = "permanent"
      ManagedBy   = "terraform"
      CostCenter  = "platform"
    }
  }
}
