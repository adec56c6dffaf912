# IAM, least privilege. Identity resources are written in the home region (provider oci.home).
# Policies are attached to the tenancy (root compartment) so that their statements can name any
# compartment (metrics, secret and function may live in different ones); every statement is
# still scoped to one compartment and narrowed by a condition. No manage, no all-resources.
#
# Resource-principal tokens are cached for about 15 minutes: new statements can take that long
# to apply to a warm function.

locals {
  secret_configured = var.enable_scrape_bearer_token_secret
  # Known before the function exists, so the function's config can name it (FUNCTION_DYNAMIC_GROUP).
  function_dynamic_group = var.function_dynamic_group != "" ? var.function_dynamic_group : "${var.name_prefix}-function"
}

# The function, and only this function (matched by its OCID), as a principal; with shards, each of
# the shard functions (ANY of their OCIDs: a rule cannot nest ALL in ANY).
resource "oci_identity_dynamic_group" "function" {
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = local.function_dynamic_group
  description    = "The ${var.function_name} function (resource principal) of ${var.name_prefix}"
  matching_rule  = var.shard_count == 1 ? "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.this[0].id}'}" : "ANY {${join(", ", [for f in oci_functions_function.this : "resource.id = '${f.id}'"])}}"
  freeform_tags  = var.freeform_tags
}

# Post custom metrics, only in the configured namespace, only into the metrics compartment.
resource "oci_identity_policy" "function_metrics" {
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function-metrics"
  description    = "${var.name_prefix}: the function may post metrics to namespace ${var.metrics_namespace} only"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to use metrics in compartment id ${var.compartment_ocid} where target.metrics.namespace = '${var.metrics_namespace}'",
  ]
}

# Read the one bearer-token secret, only when one is configured. The secret's compartment is
# taken from the secret itself, so no extra variable is needed.
data "oci_vault_secret" "bearer_token" {
  count = local.secret_configured ? 1 : 0

  secret_id = var.scrape_bearer_token_secret_ocid
}

resource "oci_identity_policy" "function_secret" {
  count    = local.secret_configured ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function-secret"
  description    = "${var.name_prefix}: the function may read its scrape bearer-token secret only"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to read secret-bundles in compartment id ${data.oci_vault_secret.bearer_token[0].compartment_id} where target.secret.id = '${var.scrape_bearer_token_secret_ocid}'",
  ]
}

# The Resource Scheduler schedule (schedule.tf: every minute, or the daily kick), and no other
# principal, may invoke functions in the function's compartment: Oracle's documented statement for
# a schedule ("Allow any-user to manage <resource-type> ... where all {request.principal.type =
# 'resourceschedule', request.principal.id = '<schedule OCID>'}"), with functions-family, the
# resource type Oracle's Functions scheduling examples name. A condition on a variable the Functions
# policy reference does not list (such as target.function.id) would decline every request. The
# alarm trigger itself needs no statement: Notifications invokes the subscribed function, and the
# operator creating the subscription needs FN_INVOCATION on it.
resource "oci_identity_policy" "schedule_invoke" {
  count    = local.schedule_enabled ? var.shard_count : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-schedule-invoke${local.shard_suffix[count.index]}"
  description    = "${var.name_prefix}: the ${local.schedule_label} schedule may invoke functions in the compartment of ${local.function_names[count.index]}"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow any-user to manage functions-family in compartment id ${local.resources_compartment_ocid} where all {request.principal.type = 'resourceschedule', request.principal.id = '${oci_resource_scheduler_schedule.invoke[count.index].id}'}",
  ]
}

# Only with discovery: list the instances, their VNIC attachments and VNICs (read-only) in the
# scanned compartment, plus its sub-compartments' names when they are scanned too. A statement in
# a compartment also covers its sub-compartments (policy inheritance), so one compartment is named.
resource "oci_identity_policy" "function_discovery" {
  count    = var.enable_discovery ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function-discovery"
  description    = "${var.name_prefix}: the function may list compute instances and their private IPs to scrape them"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to read instances in compartment id ${var.discovery_compartment_ocid}",
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to read vnic-attachments in compartment id ${var.discovery_compartment_ocid}",
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to read vnics in compartment id ${var.discovery_compartment_ocid}",
  ]
}

# Sub-compartments are walked with ListCompartments (their names and ids only).
resource "oci_identity_policy" "function_discovery_compartments" {
  count    = var.enable_discovery && var.discovery_include_subcompartments ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function-discovery-compartments"
  description    = "${var.name_prefix}: the function may list the sub-compartments it discovers instances in"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to inspect compartments in compartment id ${var.discovery_compartment_ocid}",
  ]
}
