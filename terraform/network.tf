# Network of the Functions application.
#
# create_network = true (default): a new VCN with one private subnet. The function reaches OCIR,
# telemetry-ingestion, Vault and (for discovery) the Compute/VCN/Identity APIs through a service
# gateway for "All <region> Services In Oracle Services Network"; its security list allows egress
# only to that services CIDR (HTTPS), to each scrape target on its port, and to the discovered
# instances' ports in discovery_target_cidrs; no ingress.
#
# create_network = false with subnet_id (e.g. a private subnet in the BharatMart VM's VCN): nothing
# here is created; that subnet must already route to a service gateway and allow the egress above.
# Whether the network exists is decided by the bool, never by the subnet's OCID: an OCID made in the
# same apply is unknown at plan time, and count cannot depend on it.

locals {
  create_network  = var.create_network
  function_subnet = local.create_network ? oci_core_subnet.functions[0].id : var.subnet_id

  # Where the scrape targets are. With scrape_target_cidrs: those CIDRs, on every scrape port.
  # Without (default), derived from the targets themselves: an IPv4 literal gets its own /32 on its
  # port; a host name the new VCN's CIDR, or 0.0.0.0/0 when the NAT gateway exists (it may resolve
  # to any address on the internet), on its port.
  ipv4_target_re = "^([0-9]{1,3}(?:\\.[0-9]{1,3}){3})(?::[0-9]+)?$"
  egress_to_given_cidrs = flatten([
    for cidr in var.scrape_target_cidrs : [
      for port in local.scrape_ports : { cidr = cidr, port = port }
    ]
  ])
  egress_to_targets = distinct([
    for t in local.scrape_targets : {
      cidr = can(regex(local.ipv4_target_re, t.hostport)) ? "${regex(local.ipv4_target_re, t.hostport)[0]}/32" : (var.enable_nat_gateway ? "0.0.0.0/0" : var.vcn_cidr)
      port = t.port
    }
  ])
  static_egress = length(var.scrape_target_cidrs) > 0 ? local.egress_to_given_cidrs : local.egress_to_targets

  # With discovery, the discovered instances' ports (discovery_port and the ports their tags name)
  # to discovery_target_cidrs (their subnets; default scrape_target_cidrs, else the new VCN).
  discovery_enabled = var.enable_discovery
  discovery_cidrs   = length(var.discovery_target_cidrs) > 0 ? var.discovery_target_cidrs : (length(var.scrape_target_cidrs) > 0 ? var.scrape_target_cidrs : [var.vcn_cidr])
  discovery_ports   = local.discovery_enabled ? distinct(concat([var.discovery_port], var.discovery_scrape_ports)) : []
  target_egress = distinct(concat(
    local.static_egress,
    flatten([
      for cidr in local.discovery_cidrs : [
        for port in local.discovery_ports : { cidr = cidr, port = port }
      ]
    ]),
  ))

  # Which targets the new VCN can reach, judged for IPv4 literals (a host name is only known
  # once it resolves). The new VCN routes only to the service gateway (and the NAT gateway when
  # enabled): a private address outside vcn_cidr is in another network it has no route to, and a
  # public address needs the NAT gateway. And every literal target must have an egress rule.
  private_cidrs = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
  ipv4_target_ports = distinct([
    for t in local.scrape_targets : { ip = regex(local.ipv4_target_re, t.hostport)[0], port = t.port } if can(regex(local.ipv4_target_re, t.hostport))
  ])
  ipv4_targets = distinct([for t in local.ipv4_target_ports : t.ip])
  ipv4_number  = { for ip in local.ipv4_targets : ip => sum([for i, o in split(".", ip) : tonumber(o) * pow(256, 3 - i)]) }
  cidr_ranges = {
    for c in distinct(concat(local.private_cidrs, [var.vcn_cidr], [for r in local.target_egress : r.cidr])) : c => {
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
  targets_without_egress = [
    for t in local.ipv4_target_ports : "${t.ip}:${t.port}" if !startswith(t.ip, "127.") && !anytrue([
      for r in local.target_egress : r.port == t.port && local.ipv4_number[t.ip] >= local.cidr_ranges[r.cidr].first && local.ipv4_number[t.ip] < local.cidr_ranges[r.cidr].first + local.cidr_ranges[r.cidr].size
    ])
  ]
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
      error_message = "metrics_endpoint has private target(s) ${join(", ", local.private_targets_outside_vcn)} outside vcn_cidr (${var.vcn_cidr}): the new VCN has no route to them. Set create_network = false and subnet_id to an existing private subnet in (or routed to) the target's VCN."
    }

    precondition {
      condition     = var.enable_nat_gateway || length(local.public_targets) == 0
      error_message = "metrics_endpoint has public target(s) ${join(", ", local.public_targets)}: the new VCN reaches the internet only through a NAT gateway. Set enable_nat_gateway = true, or create_network = false and subnet_id to a subnet that can reach them."
    }

    precondition {
      condition     = length(local.targets_without_egress) == 0
      error_message = "metrics_endpoint target(s) ${join(", ", local.targets_without_egress)} have no egress rule: scrape_target_cidrs (${join(", ", var.scrape_target_cidrs)}) does not contain them. Add their CIDR, or leave scrape_target_cidrs empty to derive the egress from the targets."
    }
  }
}
