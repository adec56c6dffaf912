# Optional: the function's stdout/stderr (one JSON summary line per invocation) in OCI Logging.

resource "oci_logging_log_group" "function" {
  count = var.enable_function_logs ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  display_name   = "${var.name_prefix}-logs"
  description    = "Logs of the ${var.name_prefix} Functions application"
  freeform_tags  = var.freeform_tags
}

resource "oci_logging_log" "function_invoke" {
  count = var.enable_function_logs ? 1 : 0

  display_name       = "${var.name_prefix}-invoke"
  log_group_id       = oci_logging_log_group.function[0].id
  log_type           = "SERVICE"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags

  configuration {
    compartment_id = local.resources_compartment_ocid

    source {
      category    = "invoke"
      resource    = oci_functions_application.this.id
      service     = "functions"
      source_type = "OCISERVICE"
    }
  }
}
