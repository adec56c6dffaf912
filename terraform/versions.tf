# Provider pin: the offline checks in test/terraform.test.ts validate every block against the
# schema of exactly this provider version (test/fixtures/terraform/oci-provider-schema.json).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = "= 8.28.0"
    }
  }
}

# Default provider: the region that runs the function. Authentication comes from the usual
# places (~/.oci/config profile, OCI_* environment variables, or OCI Resource Manager).
provider "oci" {
  region              = var.region
  config_file_profile = var.oci_config_profile
}

# Identity resources (dynamic group, policies) can only be written in the tenancy's home region.
provider "oci" {
  alias               = "home"
  region              = local.home_region
  config_file_profile = var.oci_config_profile
}

data "oci_identity_region_subscriptions" "home" {
  tenancy_id = var.tenancy_ocid

  filter {
    name   = "is_home_region"
    values = ["true"]
  }
}

locals {
  home_region = var.home_region != "" ? var.home_region : data.oci_identity_region_subscriptions.home.region_subscriptions[0].region_name
}
