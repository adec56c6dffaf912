# A tagged instance pool of BharatMart VMs (app on :3000, node_exporter on :9100 on each), and
# prom2oci discovering them: every instance the pool launches carries the tags below, so it is
# scraped from its first minute, and an instance the pool terminates simply stops being scraped.
# The function gets its own private subnet in the pool's VCN, whose security list lets it reach
# Oracle services (HTTPS) and the instances' exporter ports, and nothing else; an NSG on the
# instances admits that subnet on those ports.
#
#   terraform init && terraform apply -var-file=pool.tfvars
#
# Each series then carries resourceId = the instance OCID, the dimension of OCI's own
# oci_computeagent metrics (CpuUtilization, MemoryUtilization...), so both join in Metric Explorer.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    oci = {
      source  = "oracle/oci"
      version = "= 8.28.0"
    }
  }
}

variable "tenancy_ocid" { type = string }
variable "region" { type = string }
variable "compartment_ocid" {
  description = "Compartment of the pool, its instances and the posted metrics."
  type        = string
}
variable "vcn_id" { type = string }
variable "instances_subnet_id" {
  description = "Private subnet of the pool's instances."
  type        = string
}
variable "function_subnet_cidr" {
  description = "A free CIDR in the VCN for the function's new subnet, e.g. 10.0.9.0/28."
  type        = string
}
variable "service_route_table_id" {
  description = "A route table of the VCN that routes All <region> Services In Oracle Services Network to a service gateway."
  type        = string
}
variable "instances_subnet_cidr" {
  description = "CIDR of instances_subnet_id, where the function may connect."
  type        = string
}
variable "availability_domain" { type = string }
variable "image_id" {
  description = "An image with BharatMart (:3000/metrics) and prometheus-node-exporter (:9100/metrics) enabled."
  type        = string
}
variable "function_image" { type = string }
variable "pool_size" {
  type    = number
  default = 3
}

locals {
  exporter_ports = [9100, 3000]
}

provider "oci" {
  region = var.region
}

data "oci_core_services" "all" {
  filter {
    name   = "name"
    values = ["All .* Services In Oracle Services Network"]
    regex  = true
  }
}

# The function's subnet: egress to Oracle services (OCIR, telemetry-ingestion, Compute/VCN APIs)
# and to the exporter ports in the instances' subnet; no ingress.
resource "oci_core_security_list" "function" {
  compartment_id = var.compartment_ocid
  vcn_id         = var.vcn_id
  display_name   = "prom2oci-function"

  egress_security_rules {
    description      = "HTTPS to Oracle Services Network"
    destination      = data.oci_core_services.all.services[0].cidr_block
    destination_type = "SERVICE_CIDR_BLOCK"
    protocol         = "6"

    tcp_options {
      min = 443
      max = 443
    }
  }

  dynamic "egress_security_rules" {
    for_each = local.exporter_ports
    content {
      description      = "scrape port ${egress_security_rules.value} of the pool's instances"
      destination      = var.instances_subnet_cidr
      destination_type = "CIDR_BLOCK"
      protocol         = "6"

      tcp_options {
        min = egress_security_rules.value
        max = egress_security_rules.value
      }
    }
  }
}

resource "oci_core_subnet" "function" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = var.vcn_id
  cidr_block                 = var.function_subnet_cidr
  display_name               = "prom2oci-function"
  prohibit_public_ip_on_vnic = true
  route_table_id             = var.service_route_table_id
  security_list_ids          = [oci_core_security_list.function.id]
}

# The instances admit the function subnet on the exporter ports, and nothing else from it.
resource "oci_core_network_security_group" "exporters" {
  compartment_id = var.compartment_ocid
  vcn_id         = var.vcn_id
  display_name   = "bharatmart-exporters"
}

resource "oci_core_network_security_group_security_rule" "from_function" {
  for_each = toset([for p in local.exporter_ports : tostring(p)])

  network_security_group_id = oci_core_network_security_group.exporters.id
  direction                 = "INGRESS"
  protocol                  = "6"
  source                    = var.function_subnet_cidr
  source_type               = "CIDR_BLOCK"
  description               = "prom2oci scrapes port ${each.value}"

  tcp_options {
    destination_port_range {
      min = tonumber(each.value)
      max = tonumber(each.value)
    }
  }
}

# The tags every launched instance carries: the discovery filter and its exporters' ports.
resource "oci_core_instance_configuration" "bharatmart" {
  compartment_id = var.compartment_ocid
  display_name   = "bharatmart"

  instance_details {
    instance_type = "compute"

    launch_details {
      compartment_id = var.compartment_ocid
      shape          = "VM.Standard.E4.Flex"
      freeform_tags = {
        prom2oci        = "scrape"
        prometheus_port = join(",", [for p in local.exporter_ports : tostring(p)])
      }

      shape_config {
        ocpus         = 1
        memory_in_gbs = 8
      }

      create_vnic_details {
        subnet_id        = var.instances_subnet_id
        assign_public_ip = false
        nsg_ids          = [oci_core_network_security_group.exporters.id]
      }

      source_details {
        source_type = "image"
        image_id    = var.image_id
      }
    }
  }
}

resource "oci_core_instance_pool" "bharatmart" {
  compartment_id            = var.compartment_ocid
  instance_configuration_id = oci_core_instance_configuration.bharatmart.id
  size                      = var.pool_size
  display_name              = "bharatmart"

  placement_configurations {
    availability_domain = var.availability_domain
    primary_subnet_id   = var.instances_subnet_id
  }
}

# prom2oci with discovery instead of a fixed METRICS_ENDPOINT.
module "prom2oci" {
  source = "../.."

  tenancy_ocid     = var.tenancy_ocid
  region           = var.region
  compartment_ocid = var.compartment_ocid
  function_image   = var.function_image

  # The subnet above is created in the same apply: its OCID is unknown at plan time, so the module
  # is told by a bool (known) not to create a network, and gets the OCID to use.
  create_network = false
  subnet_id      = oci_core_subnet.function.id

  enable_discovery           = true
  discovery_compartment_ocid = var.compartment_ocid
  discovery_tag              = "prom2oci=scrape"
  discovery_port             = 9100
  discovery_scrape_ports     = local.exporter_ports
  discovery_dimensions       = "resourceDisplayName,availabilityDomain,faultDomain,shape"
  # 200 instances x ~500 series: post at nearly the tenancy's rate (see docs/cost.md).
  post_calls_per_second = 48
}

output "pool_id" {
  value = oci_core_instance_pool.bharatmart.id
}
