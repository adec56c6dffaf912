# Optional: the two alarms a user of this function needs first, both on the function's own
# self-metric `up` (1 = the target answered, 0 = it did not; one stream per `instance`).
# - target down: some target's up is 0 for target_down_pending_duration (one notification per
#   instance);
# - function stopped posting: no `up` at all for 5 minutes (schedule broken, function failing
#   before it posts, or the IAM policy missing).

resource "oci_ons_notification_topic" "alarms" {
  count = var.enable_alarms ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  name           = "${var.name_prefix}-alarms"
  description    = "Alarms of the ${var.name_prefix} Prometheus-to-OCI function"
  freeform_tags  = var.freeform_tags
}

resource "oci_ons_subscription" "alarms_email" {
  count = var.enable_alarms && var.alarm_email != "" ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  topic_id       = oci_ons_notification_topic.alarms[0].id
  protocol       = "EMAIL"
  endpoint       = var.alarm_email
  freeform_tags  = var.freeform_tags
}

resource "oci_monitoring_alarm" "target_down" {
  count = var.enable_alarms ? 1 : 0

  compartment_id                                = local.resources_compartment_ocid
  display_name                                  = "${var.name_prefix}-target-down"
  body                                          = "A Prometheus target scraped by ${var.function_name} did not answer (up = 0). Check the target and the function log."
  is_enabled                                    = true
  metric_compartment_id                         = var.compartment_ocid
  namespace                                     = var.metrics_namespace
  resource_group                                = var.resource_group != "" ? var.resource_group : null
  query                                         = "up[1m].groupBy(instance).max() < 1"
  severity                                      = "CRITICAL"
  pending_duration                              = var.target_down_pending_duration
  is_notifications_per_metric_dimension_enabled = true
  message_format                                = "ONS_OPTIMIZED"
  destinations                                  = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags                                 = var.freeform_tags
}

resource "oci_monitoring_alarm" "function_silent" {
  count = var.enable_alarms ? 1 : 0

  compartment_id        = local.resources_compartment_ocid
  display_name          = "${var.name_prefix}-function-silent"
  body                  = "${var.function_name} posted no `up` metric for 5 minutes: the schedule, the function or its IAM policy is broken. Check the function log."
  is_enabled            = true
  metric_compartment_id = var.compartment_ocid
  namespace             = var.metrics_namespace
  resource_group        = var.resource_group != "" ? var.resource_group : null
  query                 = "up[1m].grouping().absent()"
  severity              = "ERROR"
  pending_duration      = "PT5M"
  message_format        = "ONS_OPTIMIZED"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags         = var.freeform_tags
}
