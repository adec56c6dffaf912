# Invoking the function every minute. One variable, schedule_mode, picks the mechanism:
#
# alarm (default, the documented 1-minute mechanism): a Monitoring alarm that is always firing
#   repeats its notification every minute (repeat_notification_duration = PT1M, the documented
#   minimum) to a Notifications topic whose ORACLE_FUNCTIONS subscription invokes the function.
#   It is keyed on a platform metric that exists whatever the function itself posts: oci_faas
#   FunctionInvocationCount of this function (dimension resourceId). The base rule fires while
#   invocations are counted, the override fires while they are absent (absent(72h), the longest
#   absence-detection period OCI allows), so the alarm fires in both states: every invocation,
#   failed or not, keeps it going. The function receives the alarm message as its body: it runs
#   normally, de-duplicates on the message's dedupeKey + timestampEpochMillis, and answers 200 when
#   it delivered nothing, so that Notifications does not retry (docs/deploy.md, "The trigger").
#   After 72 h without any invocation absent() stops returning values and the alarm would stay
#   quiet for good: the daily kick (enable_daily_kick) invokes the function once a day from a
#   Resource Scheduler schedule, which restarts it whatever happened.
#
# resource_scheduler (opt-in): an OCI Resource Scheduler schedule, action START_RESOURCE on the
#   function, cron "* * * * *". Caveats: no OCI document offers a per-minute cadence (the console
#   offers once/daily/weekly/monthly), and scheduled runs are detached, so the schedule's
#   SUCCEEDED status only means "accepted": the function's log and its oci_faas metrics tell
#   whether a run worked.
#
# A schedule is created INACTIVE and activated (oci resource-scheduler schedule activate) only once
# the policy naming its OCID exists (iam.tf): it cannot invoke before it is allowed to.
#
# Either way, one detached invocation at apply time (bootstrap) creates the function's oci_faas
# metrics in the very first minute, so absent() in the trigger and in the alarms has a metric
# that existed.
#
# With shard_count > 1 every shard has all of this for itself (count = the shards): its bootstrap,
# its schedule (and policy), its trigger alarm on its own FunctionInvocationCount, topic and
# subscription; shard 0 keeps the addresses and names of the single function.

locals {
  # dryRun mirrors the DRY_RUN setting, so a scheduled run never overrides it.
  invoke_body = jsonencode({ dryRun = var.dry_run })


  # The one Resource Scheduler schedule: every minute (resource_scheduler mode) or the daily kick
  # (alarm mode). Decided by a mode and a bool, both known at plan time.
  schedule_enabled = var.schedule_mode == "resource_scheduler" || var.enable_daily_kick
  schedule_label   = var.schedule_mode == "resource_scheduler" ? "every-minute" : "daily-kick"
  schedule_cron    = var.schedule_mode == "resource_scheduler" ? var.schedule_cron : var.daily_kick_cron
}

# One detached invocation when the function is created (or replaced): the Functions service
# accepts it (202) and runs the function in the background, and FunctionInvocationCount exists
# from that minute, whatever the run's outcome. If this call itself is refused, `terraform apply`
# reports the error for this resource and the next apply retries it.
resource "oci_functions_invoke_function" "bootstrap" {
  count = var.shard_count

  function_id           = oci_functions_function.this[count.index].id
  fn_invoke_type        = "detached"
  invoke_function_body  = local.invoke_body
  base64_encode_content = true

  # The first run should already be allowed to post, and to read its configuration object (config.tf).
  depends_on = [oci_identity_policy.function_metrics, oci_identity_policy.function_config]
}

resource "oci_resource_scheduler_schedule" "invoke" {
  count = local.schedule_enabled ? var.shard_count : 0

  action             = "START_RESOURCE"
  compartment_id     = local.resources_compartment_ocid
  display_name       = "${var.name_prefix}-${local.schedule_label}${local.shard_suffix[count.index]}"
  description        = "Invokes the ${local.function_names[count.index]} function (${local.schedule_label}): scrape Prometheus targets, post to OCI Monitoring"
  recurrence_type    = "CRON"
  recurrence_details = local.schedule_cron
  # Created inactive (the provider deactivates it right after CreateSchedule), activated below once
  # its policy exists; Terraform then leaves the state alone.
  state         = "INACTIVE"
  freeform_tags = var.freeform_tags

  resources {
    id = oci_functions_function.this[count.index].id

    parameters {
      parameter_type = "BODY"
      value          = [local.invoke_body]
    }
  }

  lifecycle {
    ignore_changes = [state]
  }
}

# Activates the schedule after the policy that lets it invoke exists (once per schedule: a new
# schedule is created inactive again). Runs the OCI CLI where terraform runs, with the provider's
# profile and region.
resource "terraform_data" "activate_schedule" {
  count = local.schedule_enabled ? var.shard_count : 0

  triggers_replace = [oci_resource_scheduler_schedule.invoke[count.index].id]

  provisioner "local-exec" {
    command = join(" ", concat(
      ["oci", "resource-scheduler", "schedule", "activate", "--schedule-id", oci_resource_scheduler_schedule.invoke[count.index].id, "--region", var.region],
      var.oci_config_profile != null ? ["--profile", var.oci_config_profile] : [],
    ))
  }

  depends_on = [oci_identity_policy.schedule_invoke]
}

resource "oci_ons_notification_topic" "invoke" {
  count = var.schedule_mode == "alarm" ? var.shard_count : 0

  compartment_id = local.resources_compartment_ocid
  name           = "${var.name_prefix}-invoke${local.shard_suffix[count.index]}"
  description    = "Every-minute trigger of the ${local.function_names[count.index]} function"
  freeform_tags  = var.freeform_tags
}

resource "oci_ons_subscription" "invoke_function" {
  count = var.schedule_mode == "alarm" ? var.shard_count : 0

  compartment_id = local.resources_compartment_ocid
  topic_id       = oci_ons_notification_topic.invoke[count.index].id
  protocol       = "ORACLE_FUNCTIONS"
  endpoint       = oci_functions_function.this[count.index].id
  freeform_tags  = var.freeform_tags
}

resource "oci_monitoring_alarm" "invoke_every_minute" {
  count = var.schedule_mode == "alarm" ? var.shard_count : 0

  compartment_id                                = local.resources_compartment_ocid
  display_name                                  = "${var.name_prefix}-invoke-every-minute${local.shard_suffix[count.index]}"
  body                                          = "Trigger for the ${local.function_names[count.index]} function. Always firing by design; do not acknowledge."
  is_enabled                                    = true
  metric_compartment_id                         = local.resources_compartment_ocid
  namespace                                     = "oci_faas"
  query                                         = "FunctionInvocationCount[1m]{resourceId = \"${oci_functions_function.this[count.index].id}\"}.grouping().sum() >= 0"
  rule_name                                     = "invoked"
  severity                                      = "INFO"
  pending_duration                              = "PT1M"
  repeat_notification_duration                  = "PT1M"
  is_notifications_per_metric_dimension_enabled = false
  message_format                                = "RAW"
  destinations                                  = [oci_ons_notification_topic.invoke[count.index].id]
  freeform_tags                                 = var.freeform_tags

  overrides {
    rule_name        = "not_invoked"
    query            = "FunctionInvocationCount[1m]{resourceId = \"${oci_functions_function.this[count.index].id}\"}.grouping().absent(72h)"
    severity         = "INFO"
    pending_duration = "PT1M"
  }

  depends_on = [oci_ons_subscription.invoke_function]
}

# The single function's bootstrap of earlier versions is shard 0's.
moved {
  from = oci_functions_invoke_function.bootstrap
  to   = oci_functions_invoke_function.bootstrap[0]
}
