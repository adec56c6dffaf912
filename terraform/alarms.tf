# Optional: the alarms a user of this function needs first.
# - target down: some target's `up` (the function's self-metric, one stream per instance) is 0
#   for target_down_pending_duration; one notification per instance.
# - function silent: read from the platform's own oci_faas metrics of this function, so it works
#   for a deployment that never posted anything: invocations failing (error responses:
#   configuration, crash, timeout, any caller's 502) for 5 minutes, or no invocation at all for
#   5 minutes (trigger broken). The bootstrap invocation (schedule.tf) makes the invocation metric
#   exist from the first minute, absent(72h) keeps the alarm firing as long as OCI allows instead
#   of its 2-hour default, and the daily kick keeps the metric from expiring.
# - function stopped posting: the function's own `up` absent for 5 minutes, again for up to 72 h
#   (not created with dry_run, which posts nothing by design). A run the trigger invoked that
#   delivers nothing answers 200 (so Notifications does not retry it: src/handler/handler.ts),
#   which oci_faas counts as a success: this self-metric is the signal of that failure.
#   With shard_count > 1 there is one per shard instead, on that shard's own `up` streams (the
#   self-metrics' `shard` dimension, i/N): one dead shard is not hidden by the live ones. So too for
#   one function set to one shard of a split deployed elsewhere (shard = "i/N", N > 1).


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
  count = var.enable_alarms ? var.shard_count : 0

  compartment_id        = local.resources_compartment_ocid
  display_name          = "${var.name_prefix}-function-silent${local.shard_suffix[count.index]}"
  body                  = "${local.function_names[count.index]} has failed its invocations for 5 minutes (oci_faas error responses: configuration, crash, timeout). Check the function log. A run that delivers nothing answers 200 and shows as function-stopped-posting instead."
  is_enabled            = true
  metric_compartment_id = local.resources_compartment_ocid
  namespace             = "oci_faas"
  query                 = "FunctionResponseCount[1m]{resourceId = \"${oci_functions_function.this[count.index].id}\", responseType = \"Error\"}.grouping().sum() > 0"
  rule_name             = "invocations_failing"
  severity              = "ERROR"
  pending_duration      = "PT5M"
  message_format        = "ONS_OPTIMIZED"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags         = var.freeform_tags

  overrides {
    rule_name        = "not_invoked"
    body             = "${local.function_names[count.index]} was not invoked for 5 minutes (oci_faas): the every-minute trigger (schedule_mode = ${var.schedule_mode}) is broken."
    query            = "FunctionInvocationCount[1m]{resourceId = \"${oci_functions_function.this[count.index].id}\"}.grouping().absent(72h)"
    severity         = "ERROR"
    pending_duration = "PT5M"
  }
}

locals {
  # The `shard` dimension each function's self-metrics carry, as the function writes it (i/N with
  # N > 1: src/discovery/shard.ts), for the functions that have one.
  shard_given     = var.shard == "" ? [] : [for p in split("/", trimspace(var.shard)) : tonumber(p)]
  shard_of_single = length(local.shard_given) == 2 && try(local.shard_given[1] > 1, false) ? [format("%d/%d", local.shard_given[0], local.shard_given[1])] : []
  posting_shards  = var.shard_count > 1 ? [for i in local.shards : "${i}/${var.shard_count}"] : local.shard_of_single
}

resource "oci_monitoring_alarm" "function_stopped_posting" {
  count = var.enable_alarms && !var.dry_run && length(local.posting_shards) == 0 ? 1 : 0

  compartment_id        = local.resources_compartment_ocid
  display_name          = "${var.name_prefix}-function-stopped-posting"
  body                  = "${var.function_name} posted no `up` metric for 5 minutes: its runs deliver nothing (IAM policy, ingestion, network; the trigger's runs answer 200 so that Notifications does not retry them), or it is not invoked. Check the function log (invocation delivered nothing: <cause>)."
  is_enabled            = true
  metric_compartment_id = var.compartment_ocid
  namespace             = var.metrics_namespace
  resource_group        = var.resource_group != "" ? var.resource_group : null
  query                 = "up[1m].grouping().absent(72h)"
  severity              = "ERROR"
  pending_duration      = "PT5M"
  message_format        = "ONS_OPTIMIZED"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags         = var.freeform_tags
}

resource "oci_monitoring_alarm" "function_stopped_posting_per_shard" {
  count = var.enable_alarms && !var.dry_run ? length(local.posting_shards) : 0

  compartment_id        = local.resources_compartment_ocid
  display_name          = "${var.name_prefix}-function-stopped-posting${local.shard_suffix[count.index]}"
  body                  = "${local.function_names[count.index]} (shard ${local.posting_shards[count.index]}) posted no `up` metric with shard = ${local.posting_shards[count.index]} for 5 minutes: its runs deliver nothing (IAM policy, ingestion, network; the trigger's runs answer 200 so that Notifications does not retry them), or it is not invoked. Check that function's log (invocation delivered nothing: <cause>)."
  is_enabled            = true
  metric_compartment_id = var.compartment_ocid
  namespace             = var.metrics_namespace
  resource_group        = var.resource_group != "" ? var.resource_group : null
  query                 = "up[1m]{shard = \"${local.posting_shards[count.index]}\"}.grouping().absent(72h)"
  severity              = "ERROR"
  pending_duration      = "PT5M"
  message_format        = "ONS_OPTIMIZED"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags         = var.freeform_tags
}

# SLO alarms on the derived per-interval series. Each is created when its threshold is set, and
# `terraform plan` refuses a configuration in which its series is never posted (an alarm that could
# never fire): derived series need state_bucket and a posting run (not dry_run); the p99 needs
# quantiles in derived_series and 0.99 in histogram_quantiles, the error rate needs rate.
# - p99 latency: the worst route's p99 of the main HTTP histogram above the threshold.
# - error rate: failed orders (or 5xx responses, whichever counter is named) per second above the threshold.
locals {
  # The function's own defaults when the variables are empty (an empty setting is unset).
  derived_kinds       = [for k in split(",", var.derived_series == "" ? "rate,avg,quantiles" : var.derived_series) : lower(trimspace(k))]
  histogram_quantiles = [for q in split(",", var.histogram_quantiles == "" ? "0.5,0.9,0.99" : var.histogram_quantiles) : trimspace(q)]
  slo_p99_posted      = local.state_enabled && !var.dry_run && contains(local.derived_kinds, "quantiles") && anytrue([for q in local.histogram_quantiles : can(tonumber(q)) && try(tonumber(q) == 0.99, false)])
  slo_rate_posted     = local.state_enabled && !var.dry_run && contains(local.derived_kinds, "rate")
}

resource "oci_monitoring_alarm" "slo_p99_latency" {
  count = var.enable_alarms && var.slo_p99_latency_seconds > 0 ? 1 : 0

  compartment_id                                = local.resources_compartment_ocid
  display_name                                  = "${var.name_prefix}-slo-p99-latency"
  body                                          = "The p99 of ${var.slo_latency_histogram} (per route, last minute) is above ${var.slo_p99_latency_seconds} s."
  is_enabled                                    = true
  metric_compartment_id                         = var.compartment_ocid
  namespace                                     = var.metrics_namespace
  resource_group                                = var.resource_group != "" ? var.resource_group : null
  query                                         = "${var.slo_latency_histogram}_p99[1m].groupBy(route).max() > ${var.slo_p99_latency_seconds}"
  severity                                      = "CRITICAL"
  pending_duration                              = var.slo_pending_duration
  is_notifications_per_metric_dimension_enabled = true
  message_format                                = "ONS_OPTIMIZED"
  destinations                                  = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags                                 = var.freeform_tags

  lifecycle {
    precondition {
      condition     = local.slo_p99_posted
      error_message = "slo_p99_latency_seconds alarms on ${var.slo_latency_histogram}_p99, which the function posts only with state_bucket set, dry_run = false, \"quantiles\" in derived_series and 0.99 in histogram_quantiles. Set those, or slo_p99_latency_seconds = 0."
    }
  }
}

resource "oci_monitoring_alarm" "slo_error_rate" {
  count = var.enable_alarms && var.slo_error_rate_per_second > 0 ? 1 : 0

  compartment_id        = local.resources_compartment_ocid
  display_name          = "${var.name_prefix}-slo-error-rate"
  body                  = "${var.slo_error_counter} is increasing faster than ${var.slo_error_rate_per_second} per second (all series, last minute)."
  is_enabled            = true
  metric_compartment_id = var.compartment_ocid
  namespace             = var.metrics_namespace
  resource_group        = var.resource_group != "" ? var.resource_group : null
  query                 = "${var.slo_error_counter}_rate[1m].grouping().sum() > ${var.slo_error_rate_per_second}"
  severity              = "CRITICAL"
  pending_duration      = var.slo_pending_duration
  message_format        = "ONS_OPTIMIZED"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  freeform_tags         = var.freeform_tags

  lifecycle {
    precondition {
      condition     = local.slo_rate_posted
      error_message = "slo_error_rate_per_second alarms on ${var.slo_error_counter}_rate, which the function posts only with state_bucket set, dry_run = false and \"rate\" in derived_series. Set those, or slo_error_rate_per_second = 0."
    }
  }
}
