# GitHub Actions' OIDC identity provider: workflows exchange their short-lived token for role credentials,
# so no AWS access keys are stored in GitHub. AWS validates this issuer's certificate itself, so no thumbprint.
resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}
