# Invoking the function every minute. One variable, schedule_mode, picks the mechanism:
#
# alarm (default, the documented 1-minute mechanism): a Monitoring alarm that is always firing
#   repeats its notification every minute (repeat_notification_duration = PT1M, the documented
#   minimum) to a Notifications topic whose ORACLE_FUNCTIONS subscription invokes the function.
#   It is keyed on a platform metric that exists whatever the function itself posts: oci_faas
#   FunctionInvocationCount of this function (dimension resourceId). The base rule fires while
#   invocations are counted, the override fires while they are absent (absent(72h), the longest
#   absence-detection period OCI allows), so the alarm fires in both states: every invocation,
#   failed or not, keeps it going. The function receives the alarm message as its body (unknown
#   keys are ignored: a normal run).
#
# resource_scheduler (opt-in): an OCI Resource Scheduler schedule, action START_RESOURCE on the
#   function, cron "* * * * *". Caveats: no OCI document offers a per-minute cadence (the console
#   offers once/daily/weekly/monthly), and scheduled runs are detached, so the schedule's
#   SUCCEEDED status only means "accepted": the function's log and its oci_faas metrics tell
#   whether a run worked.
#
# Either way, one detached invocation at apply time (bootstrap) creates the function's oci_faas
# metrics in the very first minute, so absent() in the trigger and in the alarms has a metric
# that existed.

locals {
  # dryRun mirrors the DRY_RUN setting, so a scheduled run never overrides it.
  invoke_body = jsonencode({ dryRun = var.dry_run })

  # The oci_faas metric stream of this function (dimension resourceId = the function's OCID).
  function_invocations = "FunctionInvocationCount[1m]{resourceId = \"${oci_functions_function.this.id}\"}"
}

# One detached invocation when the function is created (or replaced): the Functions service
# accepts it (202) and runs the function in the background, and FunctionInvocationCount exists
# from that minute, whatever the run's outcome. If this call itself is refused, `terraform apply`
# reports the error for this resource and the next apply retries it.
resource "oci_functions_invoke_function" "bootstrap" {
  function_id           = oci_functions_function.this.id
  fn_invoke_type        = "detached"
  invoke_function_body  = local.invoke_body
  base64_encode_content = true

  # The first run should already be allowed to post.
  depends_on = [oci_identity_policy.function_metrics]
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
  metric_compartment_id                         = local.resources_compartment_ocid
  namespace                                     = "oci_faas"
  query                                         = "${local.function_invocations}.grouping().sum() >= 0"
  rule_name                                     = "invoked"
  severity                                      = "INFO"
  pending_duration                              = "PT1M"
  repeat_notification_duration                  = "PT1M"
  is_notifications_per_metric_dimension_enabled = false
  message_format                                = "RAW"
  destinations                                  = [oci_ons_notification_topic.invoke[0].id]
  freeform_tags                                 = var.freeform_tags

  overrides {
    rule_name        = "not_invoked"
    query            = "${local.function_invocations}.grouping().absent(72h)"
    severity         = "INFO"
    pending_duration = "PT1M"
  }

  depends_on = [oci_ons_subscription.invoke_function]
}
