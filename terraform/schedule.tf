# Invoking the function every minute. One variable, schedule_mode, picks the mechanism:
#
# resource_scheduler (default): an OCI Resource Scheduler schedule, action START_RESOURCE on the
#   function, cron "* * * * *", with a JSON body. It is the design's "scheduled job", targets
#   exactly one function, needs no metric to exist, and its own IAM statement names it. Caveat:
#   no OCI document confirms that a per-minute cron is accepted or honoured (functions are a
#   documented target; the provider's own tests schedule one). Check after the first apply that
#   the schedule's last run status is SUCCEEDED and runs are a minute apart; if not, switch to
#   schedule_mode = "alarm".
#
# alarm: the documented 1-minute fallback. A Monitoring alarm that is always firing repeats its
#   notification every minute (repeat_notification_duration = PT1M, the documented minimum) to a
#   Notifications topic whose ORACLE_FUNCTIONS subscription invokes the function. The alarm fires
#   while the function's own `up` metric is present (base rule) and also while it is absent
#   (override, up to the 72 h absence-detection maximum), so it keeps firing when a run fails.
#   The function receives the alarm message as its body.

locals {
  # dryRun mirrors the DRY_RUN setting, so a scheduled run never overrides it.
  invoke_body = jsonencode({ dryRun = var.dry_run })
}

resource "oci_resource_scheduler_schedule" "every_minute" {
  count = var.schedule_mode == "resource_scheduler" ? 1 : 0

  action             = "START_RESOURCE"
  compartment_id     = local.resources_compartment_ocid
  display_name       = "${var.name_prefix}-every-minute"
  description        = "Invokes the ${var.function_name} function: scrape Prometheus targets, post to OCI Monitoring"
  recurrence_type    = "CRON"
  recurrence_details = var.schedule_cron
  state              = "ACTIVE"
  freeform_tags      = var.freeform_tags

  resources {
    id = oci_functions_function.this.id

    parameters {
      parameter_type = "BODY"
      value          = [local.invoke_body]
    }
  }
}

resource "oci_ons_notification_topic" "invoke" {
  count = var.schedule_mode == "alarm" ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  name           = "${var.name_prefix}-invoke"
  description    = "Every-minute trigger of the ${var.function_name} function"
  freeform_tags  = var.freeform_tags
}

resource "oci_ons_subscription" "invoke_function" {
  count = var.schedule_mode == "alarm" ? 1 : 0

  compartment_id = local.resources_compartment_ocid
  topic_id       = oci_ons_notification_topic.invoke[0].id
  protocol       = "ORACLE_FUNCTIONS"
  endpoint       = oci_functions_function.this.id
  freeform_tags  = var.freeform_tags
}

resource "oci_monitoring_alarm" "invoke_every_minute" {
  count = var.schedule_mode == "alarm" ? 1 : 0

  compartment_id                                = local.resources_compartment_ocid
  display_name                                  = "${var.name_prefix}-invoke-every-minute"
  body                                          = "Trigger for the ${var.function_name} function. Always firing by design; do not acknowledge."
  is_enabled                                    = true
  metric_compartment_id                         = var.compartment_ocid
  namespace                                     = var.metrics_namespace
  resource_group                                = var.resource_group != "" ? var.resource_group : null
  query                                         = "up[1m].grouping().count() >= 0"
  rule_name                                     = "heartbeat_present"
  severity                                      = "INFO"
  pending_duration                              = "PT1M"
  repeat_notification_duration                  = "PT1M"
  is_notifications_per_metric_dimension_enabled = false
  message_format                                = "RAW"
  destinations                                  = [oci_ons_notification_topic.invoke[0].id]
  freeform_tags                                 = var.freeform_tags

  overrides {
    rule_name        = "heartbeat_absent"
    query            = "up[1m].grouping().absent(72h)"
    severity         = "INFO"
    pending_duration = "PT1M"
  }

  depends_on = [oci_ons_subscription.invoke_function]
}
