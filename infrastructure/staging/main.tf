# The staging cluster: everything lives in ../modules/cluster, shared with the other environment.
module "cluster" {
  source = "../modules/cluster"

  cluster_name       = "platform-staging"
  environment        = "staging"
  region             = var.region
  kubernetes_version = var.kubernetes_version

  # one NAT gateway for both AZs (staging is destroyed nightly; saves one NAT's hours).
  single_nat_gateway = true

  admin_cidrs     = var.admin_cidrs
  admin_role_arns = var.admin_role_arns

  monthly_budget_usd  = var.monthly_budget_usd
  budget_alert_emails = var.budget_alert_emails
}
