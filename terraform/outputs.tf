output "application_id" {
  description = "OCID of the Functions application."
  value       = oci_functions_application.this.id
}

output "application_compartment_id" {
  description = "Compartment of the application and function (resources_compartment_ocid, else compartment_ocid): the fn context's oracle.compartment-id."
  value       = local.resources_compartment_ocid
}

output "application_name" {
  description = "Name of the Functions application, for `fn --app`."
  value       = oci_functions_application.this.display_name
}

output "function_id" {
  description = "OCID of the function (with shard_count > 1: shard 0's; function_ids lists every shard's)."
  value       = oci_functions_function.this[0].id
}

output "function_ids" {
  description = "OCID of each shard's function, shard 0 first (one with shard_count = 1)."
  value       = oci_functions_function.this[*].id
}

output "function_invoke_endpoint" {
  description = "Invoke endpoint of the function (for `oci fn function invoke`; shard 0's with shard_count > 1)."
  value       = oci_functions_function.this[0].invoke_endpoint
}

output "schedule_mode" {
  description = "How the function is invoked every minute."
  value       = var.schedule_mode
}

output "schedule_id" {
  description = "OCID of the Resource Scheduler schedule (every minute with schedule_mode = resource_scheduler, else the daily kick), or null without one."
  value       = local.schedule_enabled ? oci_resource_scheduler_schedule.invoke[0].id : null
}

output "fn_commands" {
  description = "fn CLI commands, run from the repository root (where func.yaml is)."
  value = {
    deploy         = "fn deploy --app ${oci_functions_application.this.display_name}"
    invoke_dry_run = "echo '{\"dryRun\":true}' | fn invoke ${oci_functions_application.this.display_name} ${var.function_name} --content-type application/json"
    invoke         = "fn invoke ${oci_functions_application.this.display_name} ${var.function_name}"
  }
}

output "shard_image_commands" {
  description = "With shard_count > 1: after `fn deploy` (which updates shard 0, the function named in func.yaml), these OCI CLI commands point every other shard at the same image. Empty with one function."
  value = [
    for f in slice(oci_functions_function.this, 1, var.shard_count) :
    "oci fn function update --function-id ${f.id} --image \"$(oci fn function get --function-id ${oci_functions_function.this[0].id} --query data.image --raw-output)\" --force"
  ]
}

output "metric_explorer_query" {
  description = "Paste into Metric Explorer (Monitoring > Metrics Explorer, advanced mode), with the namespace and compartment below."
  value = {
    compartment_id = var.compartment_ocid
    namespace      = var.metrics_namespace
    query          = "up[1m].groupBy(instance).max()"
  }
}

output "verify_with_oci_cli" {
  description = "The same query from the OCI CLI: a list of `up` datapoints per instance means metrics are arriving."
  value       = "oci monitoring metric-data summarize-metrics-data --compartment-id ${var.compartment_ocid} --namespace ${var.metrics_namespace} --query-text 'up[1m].groupBy(instance).max()'"
}

output "invocations_query" {
  description = "The function's invocations per minute from the platform (namespace oci_faas, in the function's compartment): one a minute means the trigger works. groupBy(responseType) on FunctionResponseCount splits Success from Error."
  value = {
    compartment_id = local.resources_compartment_ocid
    namespace      = "oci_faas"
    query          = "FunctionInvocationCount[1m]{resourceId = \"${oci_functions_function.this[0].id}\"}.grouping().sum()"
  }
}

output "alarm_topic_id" {
  description = "OCID of the Notifications topic of the alarms (enable_alarms), else null."
  value       = var.enable_alarms ? oci_ons_notification_topic.alarms[0].id : null
}

output "log_id" {
  description = "OCID of the function's invoke log (enable_function_logs), else null."
  value       = var.enable_function_logs ? oci_logging_log.function_invoke[0].id : null
}
