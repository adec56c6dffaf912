# Network of the Functions application.
#
# Default (subnet_id empty): a new VCN with one private subnet. The function reaches OCIR,
# telemetry-ingestion, Vault and (for discovery) the Compute/VCN/Identity APIs through a service
# gateway for "All <region> Services In Oracle Services Network"; its security list allows egress
# only to that services CIDR (HTTPS), to the scrape targets' ports (taken from metrics_endpoint) in
# scrape_target_cidrs, and to the discovered instances' ports in discovery_target_cidrs; no ingress.
#
# With subnet_id set (e.g. a private subnet in the BharatMart VM's VCN), nothing here is created:
# that subnet must already route to a service gateway and allow the egress described above.

locals {
  create_network  = var.subnet_id == ""
  target_cidrs    = length(var.scrape_target_cidrs) > 0 ? var.scrape_target_cidrs : [var.vcn_cidr]
  function_subnet = local.create_network ? oci_core_subnet.functions[0].id : var.subnet_id

  # One egress rule per (target CIDR, target port): the static targets' ports, and with discovery
  # the discovered instances' ports (discovery_port and the ports their tags name) to
  # discovery_target_cidrs (their subnets).
  discovery_enabled = var.discovery_compartment_ocid != ""
  discovery_cidrs   = length(var.discovery_target_cidrs) > 0 ? var.discovery_target_cidrs : local.target_cidrs
  discovery_ports   = local.discovery_enabled ? distinct(concat([var.discovery_port], var.discovery_scrape_ports)) : []
  target_egress = distinct(concat(
    flatten([
      for cidr in local.target_cidrs : [
        for port in local.scrape_ports : { cidr = cidr, port = port }
      ]
    ]),
    flatten([
      for cidr in local.discovery_cidrs : [
        for port in local.discovery_ports : { cidr = cidr, port = port }
      ]
    ]),
  ))

  # Which targets the new VCN can reach, judged for IPv4 literals (a host name is only known
  # once it resolves). The new VCN routes only to the service gateway (and the NAT gateway when
  # enabled): a private address outside vcn_cidr is in another network it has no route to, and a
  # public address needs the NAT gateway.
  private_cidrs  = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
  ipv4_target_re = "^([0-9]{1,3}(?:\\.[0-9]{1,3}){3})(?::[0-9]+)?$"
  ipv4_targets = distinct([
    for t in local.scrape_targets : regex(local.ipv4_target_re, t.hostport)[0] if can(regex(local.ipv4_target_re, t.hostport))
  ])
  ipv4_number = { for ip in local.ipv4_targets : ip => sum([for i, o in split(".", ip) : tonumber(o) * pow(256, 3 - i)]) }
  cidr_ranges = {
    for c in distinct(concat(local.private_cidrs, [var.vcn_cidr])) : c => {
      first = sum([for i, o in split(".", cidrhost(c, 0)) : tonumber(o) * pow(256, 3 - i)])
      size  = pow(2, 32 - tonumber(split("/", c)[1]))
    }
  }
  private_targets = [
    for ip, n in local.ipv4_number : ip if anytrue([for c in local.private_cidrs : n >= local.cidr_ranges[c].first && n < local.cidr_ranges[c].first + local.cidr_ranges[c].size])
  ]
  private_targets_outside_vcn = [
    for ip in local.private_targets : ip if !(local.ipv4_number[ip] >= local.cidr_ranges[var.vcn_cidr].first && local.ipv4_number[ip] < local.cidr_ranges[var.vcn_cidr].first + local.cidr_ranges[var.vcn_cidr].size)
  ]
  public_targets = [for ip in local.ipv4_targets : ip if !contains(local.private_targets, ip) && !startswith(ip, "127.")]
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

  lifecycle {
    precondition {
      condition     = length(local.private_targets_outside_vcn) == 0
      error_message = "metrics_endpoint has private target(s) ${join(", ", local.private_targets_outside_vcn)} outside vcn_cidr (${var.vcn_cidr}): the new VCN has no route to them. Set subnet_id to an existing private subnet in (or routed to) the target's VCN."
    }

    precondition {
      condition     = var.enable_nat_gateway || length(local.public_targets) == 0
      error_message = "metrics_endpoint has public target(s) ${join(", ", local.public_targets)}: the new VCN reaches the internet only through a NAT gateway. Set enable_nat_gateway = true (and scrape_target_cidrs), or set subnet_id to a subnet that can reach them."
    }
  }
}
