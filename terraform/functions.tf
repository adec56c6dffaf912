# The Functions application and the function.
#
# Who owns what (so that Terraform and `fn deploy` never fight):
# - Terraform owns the application, its configuration (the function's settings), and the
#   function's existence, memory and timeouts. It creates the function from var.function_image,
#   an image built for the application shape's platform and pushed once before the first
#   `terraform apply` (docs/deploy.md, step 4).
# - `fn deploy --app <application>` owns the image afterwards: it builds, pushes and points the
#   function (found by name, var.function_name = `name` in func.yaml) at the new image.
#   `ignore_changes = [image, image_digest]` keeps Terraform from rolling that back.
# - `fn deploy` also applies func.yaml's memory and timeout: they must equal memory_in_mbs and
#   timeout_in_seconds here (test/terraform.test.ts checks it), or each tool would keep undoing
#   the other. func.yaml must not set config: the application config below is the only source.

locals {
  # Every setting the function reads (src/config/settings.ts SETTING_SPECS), fed by the variable
  # of the same name in lower case. test/terraform.test.ts keeps this map, the variables and
  # SETTING_SPECS identical.
  function_settings = {
    METRICS_ENDPOINT                       = var.metrics_endpoint
    SCRAPE_CONFIG                          = var.scrape_config
    SCRAPE_CONFIG_OBJECT                   = local.scrape_config_object
    SHARD                                  = var.shard
    COMPARTMENT_OCID                       = var.compartment_ocid
    METRICS_NAMESPACE                      = var.metrics_namespace
    RESOURCE_GROUP                         = var.resource_group
    EXTRA_DIMENSIONS                       = var.extra_dimensions
    METRICS_INCLUDE                        = var.metrics_include
    METRICS_EXCLUDE                        = var.metrics_exclude
    HISTOGRAM_BUCKETS                      = tostring(var.histogram_buckets)
    SCRAPE_TIMEOUT_MS                      = tostring(var.scrape_timeout_ms)
    SCRAPE_MAX_BYTES                       = tostring(var.scrape_max_bytes)
    SCRAPE_SAMPLE_LIMIT                    = var.scrape_sample_limit
    SPOOL_MAX_SERIES                       = var.spool_max_series
    SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS = tostring(var.scrape_follow_redirects_to_other_hosts)
    SCRAPE_BEARER_TOKEN_SECRET_OCID        = var.scrape_bearer_token_secret_ocid
    SECRET_CACHE_TTL_SECONDS               = tostring(var.secret_cache_ttl_seconds)
    OCI_MONITORING_ENDPOINT                = var.oci_monitoring_endpoint
    OCI_SECRETS_ENDPOINT                   = var.oci_secrets_endpoint
    POST_CALLS_PER_SECOND                  = tostring(var.post_calls_per_second)
    POST_CONCURRENCY                       = tostring(var.post_concurrency)
    POST_TIMEOUT_MS                        = tostring(var.post_timeout_ms)
    FUNCTION_TIMEOUT_SECONDS               = tostring(var.function_timeout_seconds)
    FUNCTION_DYNAMIC_GROUP                 = local.function_dynamic_group
    DRY_RUN                                = tostring(var.dry_run)
    FORECAST_PRICE_PER_MILLION_DATAPOINTS  = var.forecast_price_per_million_datapoints
    FORECAST_FREE_DATAPOINTS_PER_MONTH     = tostring(var.forecast_free_datapoints_per_month)
    DERIVED_SERIES                         = var.derived_series
    HISTOGRAM_QUANTILES                    = var.histogram_quantiles
    STATE_BUCKET                           = var.state_bucket
    PACING_BOARD                           = tostring(var.pacing_board)
    OBJECT_STORAGE_NAMESPACE               = local.object_storage_namespace
    OCI_OBJECT_STORAGE_ENDPOINT            = var.oci_object_storage_endpoint
    STATE_MAX_AGE_SECONDS                  = tostring(var.state_max_age_seconds)
    SCRAPE_CONCURRENCY                     = tostring(var.scrape_concurrency)
    DISCOVERY_COMPARTMENT_OCID             = var.discovery_compartment_ocid
    DISCOVERY_INCLUDE_SUBCOMPARTMENTS      = tostring(var.discovery_include_subcompartments)
    DISCOVERY_TAG                          = var.discovery_tag
    DISCOVERY_SCHEME                       = var.discovery_scheme
    DISCOVERY_PORT                         = tostring(var.discovery_port)
    DISCOVERY_PATH                         = var.discovery_path
    DISCOVERY_PORT_TAG                     = var.discovery_port_tag
    DISCOVERY_PATH_TAG                     = var.discovery_path_tag
    DISCOVERY_VNIC                         = var.discovery_vnic
    DISCOVERY_DIMENSIONS                   = var.discovery_dimensions
    DISCOVERY_TTL_SECONDS                  = tostring(var.discovery_ttl_seconds)
    DISCOVERY_TIMEOUT_MS                   = tostring(var.discovery_timeout_ms)
    OCI_COMPUTE_ENDPOINT                   = var.oci_compute_endpoint
    OCI_IDENTITY_ENDPOINT                  = var.oci_identity_endpoint
  }

  # Only non-empty values: an unset optional setting stays unset (the function treats empty and
  # missing alike, but a shorter config is easier to read in the console).
  application_config = { for k, v in local.function_settings : k => v if v != "" }

  # Shards (shard_count): function i scrapes shard i (its own SHARD, in its own config, which OCI
  # merges over the application's). One function keeps the single function's name and no config of
  # its own; shard 0 always keeps var.function_name (func.yaml's name: `fn deploy` finds it), the
  # others add -<i>. Each shard names its own trigger and alarms with the same suffix.
  shards         = range(var.shard_count)
  shard_suffix   = [for i in local.shards : i == 0 ? "" : "-${i}"]
  shard_config   = [for i in local.shards : var.shard_count > 1 ? { SHARD = "${i}/${var.shard_count}" } : null]
  function_names = [for i in local.shards : "${var.function_name}${local.shard_suffix[i]}"]
}

resource "oci_functions_application" "this" {
  compartment_id = local.resources_compartment_ocid
  display_name   = "${var.name_prefix}-app"
  subnet_ids     = [local.function_subnet]
  shape          = var.application_shape
  config         = local.application_config
  freeform_tags  = var.freeform_tags

  # The configuration object is in place before the function can be invoked.
  depends_on = [oci_objectstorage_object.scrape_config]

  lifecycle {
    precondition {
      condition     = trimspace(var.metrics_endpoint) != "" || var.enable_discovery || var.scrape_config != "" || local.config_object_enabled
      error_message = "Nothing to scrape: set metrics_endpoint, a Prometheus configuration (scrape_config, scrape_config_file or scrape_config_object), or enable_discovery = true with discovery_compartment_ocid."
    }

    precondition {
      condition     = length([for c in [var.scrape_config, var.scrape_config_file, var.scrape_config_object] : c if c != ""]) <= 1
      error_message = "Set at most one of scrape_config (inline), scrape_config_file (uploaded) and scrape_config_object (your own object): the configuration comes from one of them."
    }

    precondition {
      condition     = !local.scrape_config_uploaded || local.scrape_config_bucket != ""
      error_message = "scrape_config_file is uploaded into scrape_config_bucket, or into state_bucket when that is empty: set one of them."
    }

    # What is created follows the bools (known at plan time); the OCIDs must agree with them.
    precondition {
      condition     = var.create_network == (var.subnet_id == "")
      error_message = "create_network = true makes a new VCN and subnet (leave subnet_id empty); create_network = false uses subnet_id (set it)."
    }

    precondition {
      condition     = var.enable_discovery == (var.discovery_compartment_ocid != "")
      error_message = "enable_discovery = true needs discovery_compartment_ocid, and discovery_compartment_ocid needs enable_discovery = true."
    }

    precondition {
      condition     = var.enable_scrape_bearer_token_secret == (var.scrape_bearer_token_secret_ocid != "")
      error_message = "enable_scrape_bearer_token_secret = true needs scrape_bearer_token_secret_ocid, and scrape_bearer_token_secret_ocid needs enable_scrape_bearer_token_secret = true."
    }

    precondition {
      condition     = length(jsonencode(local.application_config)) + (var.shard_count > 1 ? length(jsonencode(local.shard_config[var.shard_count - 1])) : 0) <= 4096
      error_message = "The function's configuration exceeds OCI's 4 KB limit for application + function config."
    }

    precondition {
      condition     = var.shard_count == 1 || var.shard == ""
      error_message = "shard_count > 1 gives each function its own SHARD: leave shard empty (set shard only for a single function that is one shard of a split deployed elsewhere)."
    }
  }
}

resource "oci_functions_function" "this" {
  count = var.shard_count

  application_id                   = oci_functions_application.this.id
  display_name                     = local.function_names[count.index]
  config                           = local.shard_config[count.index]
  image                            = var.function_image
  memory_in_mbs                    = tostring(var.memory_in_mbs)
  timeout_in_seconds               = var.timeout_in_seconds
  detached_mode_timeout_in_seconds = var.detached_mode_timeout_in_seconds
  freeform_tags                    = var.freeform_tags

  # With force_destroy_state_bucket, `terraform destroy` removes the function before it empties the
  # state bucket, so no run writes the state again in between.
  depends_on = [terraform_data.empty_state_bucket]

  lifecycle {
    # `fn deploy` replaces the image on every code change; Terraform must not roll it back.
    ignore_changes = [image, image_digest]

    precondition {
      condition     = var.function_timeout_seconds <= var.timeout_in_seconds
      error_message = "function_timeout_seconds (the function's fallback deadline) must not exceed timeout_in_seconds (when OCI kills the invocation)."
    }
  }
}

# The single function of earlier versions is shard 0: the same object, no replacement.
moved {
  from = oci_functions_function.this
  to   = oci_functions_function.this[0]
}
