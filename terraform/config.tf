# The Prometheus configuration file as an Object Storage object (SCRAPE_CONFIG_OBJECT), for files
# over OCI's 4 KB of function configuration. With scrape_config_file, Terraform uploads the file
# into scrape_config_bucket (default: the state bucket) and names the object to the function; with
# scrape_config_object, the object is the user's own. Either way a policy lets the function read
# objects of that bucket (GetObject; every invocation revalidates the file by its ETag).
#
# The uploads are a map keyed by the function they configure ("0": the one function), so a
# function per shard can have a file each by adding keys.

locals {
  scrape_config_uploaded = var.scrape_config_file != ""
  scrape_config_bucket   = var.scrape_config_bucket != "" ? var.scrape_config_bucket : var.state_bucket
  scrape_config_uploads = local.scrape_config_uploaded ? {
    "0" = { source = var.scrape_config_file, object = var.scrape_config_object_name }
  } : {}
  # What the function is told: the uploaded object, else the user's own, else none.
  scrape_config_object  = local.scrape_config_uploaded ? "${local.scrape_config_bucket}/${var.scrape_config_object_name}" : var.scrape_config_object
  config_object_enabled = local.scrape_config_object != ""
  config_object_bucket  = local.config_object_enabled ? split("/", local.scrape_config_object)[0] : ""
  # The state bucket is in compartment_ocid; another bucket's compartment is read from the bucket.
  config_in_state_bucket = local.state_enabled && local.config_object_bucket == var.state_bucket
  config_bucket_compartment = !local.config_object_enabled ? "" : (
    local.config_in_state_bucket ? var.compartment_ocid : data.oci_objectstorage_bucket.config[0].compartment_id
  )
}

data "oci_objectstorage_bucket" "config" {
  count = local.config_object_enabled && !local.config_in_state_bucket ? 1 : 0

  namespace = local.object_storage_namespace
  name      = local.config_object_bucket
}

resource "oci_objectstorage_object" "scrape_config" {
  for_each = local.scrape_config_uploads

  # The state bucket by reference: it is created before the object is put into it.
  namespace    = local.object_storage_namespace
  bucket       = local.config_in_state_bucket ? oci_objectstorage_bucket.state[0].name : local.config_object_bucket
  object       = each.value.object
  content      = file(each.value.source)
  content_type = "application/yaml"
}

# Read only: GetObject (OBJECT_READ) of that bucket's objects. No write, no delete, no list.
resource "oci_identity_policy" "function_config" {
  count    = local.config_object_enabled ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function-config"
  description    = "${var.name_prefix}: the function may read its Prometheus configuration object in bucket ${local.config_object_bucket} only"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to read objects in compartment id ${local.config_bucket_compartment} where target.bucket.name = '${local.config_object_bucket}'",
  ]
}
