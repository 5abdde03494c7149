# The production cluster: everything lives in ../modules/cluster, shared with the other environment.
module "cluster" {
  source = "../modules/cluster"

  cluster_name       = "platform-production"
  environment        = "production"
  region             = var.region
  kubernetes_version = var.kubernetes_version

  # one NAT gateway per AZ, so one AZ's outage does not cut egress.
  single_nat_gateway = false

  admin_cidrs     = var.admin_cidrs
  admin_role_arns = var.admin_role_arns

  monthly_budget_usd  = var.monthly_budget_usd
  budget_alert_emails = var.budget_alert_emails
}
