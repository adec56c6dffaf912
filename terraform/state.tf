# The state between invocations (derived series: per-interval rates, averages, percentiles): a
# private bucket, created only when state_bucket is set, in the metrics compartment. The function
# reads and writes one object in it (one GetObject and one conditional PutObject per invocation).
# Terraform reads the tenancy's Object Storage namespace and passes it to the function, so the
# function makes no GetNamespace call.

locals {
  state_enabled = var.state_bucket != ""
  # The state bucket and the configuration object (config.tf) live in this namespace.
  object_storage_used = local.state_enabled || local.config_object_enabled
  # The namespace given, or the tenancy's own (read here, once, at plan time).
  object_storage_namespace = var.object_storage_namespace != "" ? var.object_storage_namespace : (local.object_storage_used ? data.oci_objectstorage_namespace.this[0].namespace : "")
}

data "oci_objectstorage_namespace" "this" {
  count = local.object_storage_used && var.object_storage_namespace == "" ? 1 : 0

  compartment_id = var.tenancy_ocid
}

resource "oci_objectstorage_bucket" "state" {
  count = local.state_enabled ? 1 : 0

  compartment_id = var.compartment_ocid
  namespace      = local.object_storage_namespace
  name           = var.state_bucket
  # Private: no public or anonymous access; only the policy below lets the function in.
  access_type   = "NoPublicAccess"
  storage_tier  = "Standard"
  versioning    = "Disabled"
  freeform_tags = var.freeform_tags
}

# Opt-in (force_destroy_state_bucket): `terraform destroy` empties the bucket, which OCI refuses to
# delete while it holds objects (the state and the spool). The function depends on this resource,
# so Terraform destroys the triggers, then the function (no run can write the state again), then
# runs this command, then deletes the bucket. Without it: docs/deploy.md, "Tear down".
resource "terraform_data" "empty_state_bucket" {
  count = local.state_enabled && var.force_destroy_state_bucket ? 1 : 0

  # A destroy-time provisioner may read only its own resource: everything it needs is kept here.
  input = {
    namespace = oci_objectstorage_bucket.state[0].namespace
    bucket    = oci_objectstorage_bucket.state[0].name
    region    = var.region
    profile   = var.oci_config_profile == null ? "" : var.oci_config_profile
  }

  provisioner "local-exec" {
    when    = destroy
    command = "oci os object bulk-delete --namespace ${self.input.namespace} --bucket-name ${self.input.bucket} --region ${self.input.region}${self.input.profile == "" ? "" : " --profile ${self.input.profile}"} --force"
  }
}

# Exactly what the state needs, on that bucket only: `use objects` gives GetObject/HeadObject
# (OBJECT_READ) and overwriting the object (OBJECT_OVERWRITE); creating it the first time needs
# OBJECT_CREATE, which only `manage objects` has, so that statement is narrowed to that one
# permission (the documented form of "let users write objects to a bucket"). `use` also has
# OBJECT_INSPECT: ListObjects of prom2oci/pacing/, the pacing board (PACING_BOARD). No delete.
resource "oci_identity_policy" "function_state" {
  count    = local.state_enabled ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function-state"
  description    = "${var.name_prefix}: the function may read, create and overwrite objects in its state bucket ${var.state_bucket} only"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to use objects in compartment id ${var.compartment_ocid} where target.bucket.name = '${var.state_bucket}'",
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to manage objects in compartment id ${var.compartment_ocid} where all {target.bucket.name = '${var.state_bucket}', request.permission = 'OBJECT_CREATE'}",
  ]
}
