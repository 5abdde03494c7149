# The network and the EKS control plane with its system node group and managed add-ons.
# Karpenter (karpenter.tf) launches every other node; Pod Identity roles are in pod-identities.tf.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # Fixed zone letters rather than a data source: the subnet layout never shifts when AWS adds or lists zones differently.
  azs          = [for letter in slice(["a", "b", "c"], 0, var.availability_zone_count) : "${var.region}${letter}"]
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  boundary_arn = "arn:${local.partition}:iam::${local.account_id}:policy/${var.permissions_boundary_name}"

  # Karpenter finds its subnets and node security group by this tag (EC2NodeClass selectors in k8s/).
  discovery_tag = { "karpenter.sh/discovery" = var.cluster_name }

  # Cluster admins: the CI role (pre-destroy and Flux bootstrap need the API) plus the given human roles.
  # Roles only: variable validation rejects IAM users.
  admin_role_arns = distinct(concat(
    ["arn:${local.partition}:iam::${local.account_id}:role/${var.ci_admin_role_name}"],
    var.admin_role_arns,
  ))
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"

  name = var.cluster_name
  cidr = var.vpc_cidr
  azs  = local.azs

  # For a /16: /20 private subnets (4096 addresses each: prefix delegation takes /28 blocks) and /24 public ones
  # for the NAT gateway(s) and load balancers. Public netnums start at 48, past the third private subnet, so the
  # two lists never overlap; both derive from the VPC CIDR so no literal ranges drift apart.
  private_subnets = [for i in range(var.availability_zone_count) : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i in range(var.availability_zone_count) : cidrsubnet(var.vpc_cidr, 8, 48 + i)]

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames    = true
  enable_dns_support      = true
  map_public_ip_on_launch = false

  # The default security group is adopted with no rules, so nothing can use it by accident.
  manage_default_security_group = true

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_cloudwatch_log_group_retention_in_days = var.log_retention_days
  flow_log_max_aggregation_interval               = 600
  flow_log_traffic_type                           = "REJECT" # rejected traffic only: what a reviewer looks for, a fraction of the cost
  vpc_flow_log_iam_role_name                      = "${var.cluster_name}-vpc-flow-log"
  vpc_flow_log_iam_role_use_name_prefix           = false
  vpc_flow_log_iam_policy_name                    = "${var.cluster_name}-vpc-flow-log"
  vpc_flow_log_iam_policy_use_name_prefix         = false
  vpc_flow_log_permissions_boundary               = local.boundary_arn

  public_subnet_tags  = { "kubernetes.io/role/elb" = "1" }
  private_subnet_tags = merge(local.discovery_tag, { "kubernetes.io/role/internal-elb" = "1" })
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.cluster_name
  kubernetes_version = var.kubernetes_version

  # AWS's default for API/Terraform-created clusters is EXTENDED (6x the price after standard support ends);
  # STANDARD makes AWS upgrade the control plane instead. fleet eks status warns before that date.
  upgrade_policy = { support_type = "STANDARD" }

  endpoint_private_access      = true
  endpoint_public_access       = true
  endpoint_public_access_cidrs = var.admin_cidrs

  # Access entries only (no aws-auth ConfigMap), for roles only.
  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = false
  access_entries = {
    for arn in local.admin_role_arns : replace(split("/", arn)[length(split("/", arn)) - 1], ".", "-") => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn   = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }

  # Pod Identity replaces IRSA: no OIDC provider for the cluster.
  enable_irsa = false

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.private_subnets

  iam_role_name                 = "${var.cluster_name}-cluster"
  iam_role_permissions_boundary = local.boundary_arn

  cloudwatch_log_group_retention_in_days = var.log_retention_days

  node_security_group_tags = local.discovery_tag

  addons = {
    vpc-cni = {
      before_compute = true
      configuration_values = jsonencode({
        # NetworkPolicy objects in k8s/ are enforced only with this on.
        enableNetworkPolicy = "true"
        env = {
          # Each secondary IP slot carries a /28, so a t3.large runs 110 pods instead of 35.
          ENABLE_PREFIX_DELEGATION = "true"
          WARM_PREFIX_TARGET       = "1"
        }
      })
    }
    eks-pod-identity-agent = {
      before_compute = true
    }
    # Requests stated here, not left to EKS's unpublished defaults, so fleet validate's budget counts what the
    # scheduler will (the one staging node's CPU is nearly all requested). Both idle at a few millicores here.
    coredns = {
      configuration_values = jsonencode({
        resources = {
          requests = { cpu = "50m", memory = "70Mi" }
          limits   = { memory = "170Mi" }
        }
      })
    }
    kube-proxy = {
      configuration_values = jsonencode({
        resources = {
          requests = { cpu = "25m", memory = "32Mi" }
        }
      })
    }
    metrics-server = {}
    aws-ebs-csi-driver = {
      pod_identity_association = [{
        role_arn        = module.ebs_csi_pod_identity.role_arn
        service_account = "ebs-csi-controller-sa"
      }]
    }
  }

  eks_managed_node_groups = {
    system = {
      ami_type       = "AL2023_x86_64_STANDARD"
      capacity_type  = "SPOT"
      instance_types = var.system_node_instance_types
      min_size       = 1
      max_size       = var.system_node_max_size
      desired_size   = 1

      iam_role_name                 = "${var.cluster_name}-system"
      iam_role_permissions_boundary = local.boundary_arn

      # IMDSv2 only, hop limit 1: pods cannot reach the node role's credentials (they use Pod Identity).
      metadata_options = {
        http_endpoint               = "enabled"
        http_tokens                 = "required"
        http_put_response_hop_limit = 1
      }

      labels = { "platform.example/pool" = "system" }
    }
  }
}
