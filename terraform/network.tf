# Network of the Functions application.
#
# Default (subnet_id empty): a new VCN with one private subnet. The function reaches OCIR,
# telemetry-ingestion and Vault through a service gateway for "All <region> Services In Oracle
# Services Network"; its security list allows egress only to that services CIDR (HTTPS) and to
# the scrape targets' ports (taken from metrics_endpoint) in scrape_target_cidrs, and no ingress.
#
# With subnet_id set (e.g. a private subnet in the BharatMart VM's VCN), nothing here is created:
# that subnet must already route to a service gateway and allow the egress described above.

locals {
  create_network  = var.subnet_id == ""
  target_cidrs    = length(var.scrape_target_cidrs) > 0 ? var.scrape_target_cidrs : [var.vcn_cidr]
  function_subnet = local.create_network ? oci_core_subnet.functions[0].id : var.subnet_id

  # One egress rule per (target CIDR, target port).
  target_egress = flatten([
    for cidr in local.target_cidrs : [
      for port in local.scrape_ports : { cidr = cidr, port = port }
    ]
  ])
}

data "oci_core_services" "all_oci_services" {
  filter {
    name   = "name"
    values = ["All .* Services In Oracle Services Network"]
    regex  = true
  }
}

resource "oci_core_vcn" "this" {
  count = local.create_network ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name_prefix}-vcn"
  dns_label      = "prom2oci"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_service_gateway" "this" {
  count = local.create_network ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-sgw"
  freeform_tags  = var.freeform_tags

  services {
    service_id = data.oci_core_services.all_oci_services.services[0].id
  }
}

resource "oci_core_nat_gateway" "this" {
  count = local.create_network && var.enable_nat_gateway ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-nat"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_route_table" "functions" {
  count = local.create_network ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-functions-rt"
  freeform_tags  = var.freeform_tags

  route_rules {
    description       = "OCIR, telemetry-ingestion and Vault through the service gateway"
    destination       = data.oci_core_services.all_oci_services.services[0].cidr_block
    destination_type  = "SERVICE_CIDR_BLOCK"
    network_entity_id = oci_core_service_gateway.this[0].id
  }

  dynamic "route_rules" {
    for_each = var.enable_nat_gateway ? [1] : []
    content {
      description       = "scrape targets on the internet"
      destination       = "0.0.0.0/0"
      destination_type  = "CIDR_BLOCK"
      network_entity_id = oci_core_nat_gateway.this[0].id
    }
  }
}

resource "oci_core_security_list" "functions" {
  count = local.create_network ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-functions-sl"
  freeform_tags  = var.freeform_tags

  # HTTPS to Oracle services (OCIR, telemetry-ingestion, Vault secrets).
  egress_security_rules {
    description      = "HTTPS to Oracle Services Network"
    destination      = data.oci_core_services.all_oci_services.services[0].cidr_block
    destination_type = "SERVICE_CIDR_BLOCK"
    protocol         = "6"
    stateless        = false

    tcp_options {
      min = 443
      max = 443
    }
  }

  # The scrape targets' /metrics ports.
  dynamic "egress_security_rules" {
    for_each = local.target_egress
    content {
      description      = "scrape target port ${egress_security_rules.value.port}"
      destination      = egress_security_rules.value.cidr
      destination_type = "CIDR_BLOCK"
      protocol         = "6"
      stateless        = false

      tcp_options {
        min = egress_security_rules.value.port
        max = egress_security_rules.value.port
      }
    }
  }
}

resource "oci_core_subnet" "functions" {
  count = local.create_network ? 1 : 0

  compartment_id             = local.resources_compartment_ocid
  vcn_id                     = oci_core_vcn.this[0].id
  cidr_block                 = var.subnet_cidr
  display_name               = "${var.name_prefix}-functions"
  dns_label                  = "functions"
  prohibit_internet_ingress  = true
  prohibit_public_ip_on_vnic = true
  route_table_id             = oci_core_route_table.functions[0].id
  security_list_ids          = [oci_core_security_list.functions[0].id]
  freeform_tags              = var.freeform_tags
}
