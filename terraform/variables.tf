# ---------------------------------------------------------------------------------------------
# Where to deploy
# ---------------------------------------------------------------------------------------------

variable "tenancy_ocid" {
  description = "OCID of the tenancy (dynamic groups live there; the home region is looked up from it)."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.[a-z0-9_-]+\\.[a-z0-9_-]*\\.[A-Za-z0-9._-]+$", var.tenancy_ocid))
    error_message = "tenancy_ocid must be a tenancy OCID (ocid1.tenancy.oc1..aaaa...)."
  }
}

variable "region" {
  description = "Region that runs the function and receives the metrics, e.g. eu-frankfurt-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be a region identifier such as eu-frankfurt-1 (not a region key such as FRA)."
  }
}

variable "home_region" {
  description = "Home region of the tenancy, for identity resources. Empty = looked up with the tenancy's region subscriptions."
  type        = string
  default     = ""
}

variable "oci_config_profile" {
  description = "Profile of ~/.oci/config used by the provider. null = the provider's default (DEFAULT profile or OCI_* variables)."
  type        = string
  default     = null
}

variable "resources_compartment_ocid" {
  description = "Compartment for the network, application, function, schedule, logs and alarms. Empty = compartment_ocid (the metrics compartment)."
  type        = string
  default     = ""

  validation {
    condition     = var.resources_compartment_ocid == "" || can(regex("^ocid1\\.(compartment|tenancy)\\.[a-z0-9_-]+\\.[a-z0-9_-]*\\.[A-Za-z0-9._-]+$", var.resources_compartment_ocid))
    error_message = "resources_compartment_ocid must be empty or a compartment OCID (ocid1.compartment.oc1..aaaa...)."
  }
}

variable "name_prefix" {
  description = "Prefix of every display name. Dynamic group, policy and topic names must be unique in the tenancy: change it per deployment."
  type        = string
  default     = "prom2oci"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,39}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and use at most 40 letters, digits, _ or -."
  }
}

variable "freeform_tags" {
  description = "Free-form tags put on every taggable resource."
  type        = map(string)
  default     = { "app" = "prom2oci" }
}

# ---------------------------------------------------------------------------------------------
# The function's settings (src/config/settings.ts SETTING_SPECS): one variable per key, the
# variable named after the key in lower case, with the same default. They become the
# application's configuration (environment variables of the function). A test keeps the three
# lists (SETTING_SPECS, these variables, local.function_settings) identical.
# ---------------------------------------------------------------------------------------------

variable "scrape_config" {
  description = "SCRAPE_CONFIG: a Prometheus configuration file (YAML: global, scrape_configs), inline; its jobs replace METRICS_ENDPOINT's implicit one (see docs/scrape-config.md); OCI limits the whole configuration of a function to 4 KB. In Terraform e.g. file(\"prometheus.yml\"). Empty = none."
  type        = string
  default     = ""
}

variable "shard_count" {
  description = "Number of shards: shard_count functions from one image in one application, function i with SHARD=i/shard_count, so each scrapes the targets whose address hashes to i (docs/scrape-config.md, Shards). Each has its own trigger, state and spool objects, its own oci_faas alarms and its own stopped-posting alarm (on its `up`, which carries the dimension shard = i/shard_count); the target-down and SLO alarms read the one namespace all shards post to. 1 = one function, as before (the same resource addresses). When to shard: docs/performance.md."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count == floor(var.shard_count) && var.shard_count >= 1 && var.shard_count <= 1000
    error_message = "shard_count must be a whole number from 1 to 1000 (SHARD's N)."
  }
}

variable "scrape_config_object" {
  description = "SCRAPE_CONFIG_OBJECT: a Prometheus configuration file in Object Storage, as <bucket>/<object> in OBJECT_STORAGE_NAMESPACE: read by every invocation (a warm container revalidates it by ETag, so an unchanged file is not downloaded again); instead of SCRAPE_CONFIG, for files over OCI's 4 KB of function configuration (at most 1 MiB; see docs/scrape-config.md). Here: an object you upload yourself (a policy lets the function read its bucket); scrape_config_file uploads one instead. Empty = none."
  type        = string
  default     = ""

  validation {
    condition     = var.scrape_config_object == "" || (can(regex("^[A-Za-z0-9._-]{1,256}/.+$", var.scrape_config_object)) && !can(regex("[[:cntrl:]]", var.scrape_config_object)))
    error_message = "scrape_config_object must be empty or <bucket>/<object>, e.g. prom2oci-config/prometheus.yml."
  }
}

variable "scrape_config_file" {
  description = "A Prometheus configuration file on the machine running terraform (e.g. \"prometheus.yml\"), uploaded as an object into scrape_config_bucket (default: the state bucket) and named to the function as SCRAPE_CONFIG_OBJECT, with a policy letting the function read that bucket. Editing the file and applying again uploads it; the next invocation uses it. Empty = none."
  type        = string
  default     = ""
}

variable "scrape_config_bucket" {
  description = "The existing bucket scrape_config_file is uploaded into (in the tenancy's Object Storage namespace). Empty = state_bucket, created here."
  type        = string
  default     = ""

  validation {
    condition     = var.scrape_config_bucket == "" || can(regex("^[A-Za-z0-9._-]{1,256}$", var.scrape_config_bucket))
    error_message = "scrape_config_bucket must be empty or a bucket name (letters, digits, - _ ., up to 256 characters)."
  }
}

variable "scrape_config_object_name" {
  description = "The object name scrape_config_file is uploaded as."
  type        = string
  default     = "prom2oci/scrape-config.yml"

  validation {
    condition     = length(var.scrape_config_object_name) >= 1 && length(var.scrape_config_object_name) <= 1024 && !can(regex("[[:cntrl:]]", var.scrape_config_object_name))
    error_message = "scrape_config_object_name must be 1 to 1024 characters without control characters."
  }
}

variable "shard" {
  description = "SHARD: scrape only shard i of N: the targets whose address after target relabelling hashes to i (Prometheus' hashmod: MD5 mod N); each shard keeps its own state and spool (see docs/scrape-config.md, Shards). Leave it empty with shard_count: each of the shard_count functions gets its own SHARD; set it only for a single function (shard_count = 1) that is one shard of a split deployed elsewhere. Empty = every target."
  type        = string
  default     = ""

  validation {
    condition     = var.shard == "" || can(regex("^[0-9]{1,9}/[0-9]{1,9}$", trimspace(var.shard)))
    error_message = "shard must be i/N (e.g. 0/4), or empty."
  }
}

variable "metrics_endpoint" {
  description = "METRICS_ENDPOINT: URL(s) to scrape, e.g. http://10.0.0.5:3000/metrics; scraped together with the discovered targets when discovery is on. May be empty when discovery_compartment_ocid is set."
  type        = string
  default     = ""

  validation {
    condition = alltrue([
      for u in split(",", var.metrics_endpoint) : can(regex("^https?://[^/?#\\s]+(/\\S*)?$", trimspace(u))) if trimspace(u) != ""
    ])
    error_message = "metrics_endpoint must be http(s) URLs separated by commas, e.g. http://10.0.0.5:3000/metrics."
  }
}

variable "compartment_ocid" {
  description = "COMPARTMENT_OCID: compartment of the posted metrics. The metrics policy applies there too."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(compartment|tenancy)\\.[a-z0-9_-]+\\.[a-z0-9_-]*\\.[A-Za-z0-9._-]+$", var.compartment_ocid))
    error_message = "compartment_ocid must be a compartment OCID (ocid1.compartment.oc1..aaaa...) or the tenancy OCID for the root compartment."
  }
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE: OCI custom metric namespace of every posted metric."
  type        = string
  default     = "bharatmart"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]*$", var.metrics_namespace)) && !can(regex("^(?i)(oci_|oracle_)", var.metrics_namespace))
    error_message = "metrics_namespace must start with a letter, use only letters, digits and _, and must not start with the reserved prefixes oci_ or oracle_."
  }
}

variable "resource_group" {
  description = "RESOURCE_GROUP: OCI resourceGroup of every posted metric."
  type        = string
  default     = ""

  validation {
    condition     = var.resource_group == "" || can(regex("^[A-Za-z][A-Za-z0-9._$-]*$", var.resource_group))
    error_message = "resource_group must start with a letter and use only letters, digits, ., _, - and $."
  }
}

variable "extra_dimensions" {
  description = "EXTRA_DIMENSIONS: dimensions added to every series, e.g. env=prod,region=fra."
  type        = string
  default     = ""

  validation {
    condition = length([for p in split(",", var.extra_dimensions) : p if trimspace(p) != ""]) <= 10 && alltrue([
      for p in split(",", var.extra_dimensions) : can(regex("^[!-<>-~]{1,256}\\s*=\\s*\\S.{0,511}$", trimspace(p))) && !contains(["instance", "le", "quantile"], trimspace(split("=", p)[0])) if trimspace(p) != ""
    ])
    error_message = "extra_dimensions must be at most 10 key=value pairs separated by commas; keys are printable ASCII without spaces or =, not instance, le or quantile (prom2oci sets those), and values are not empty."
  }
}

variable "metrics_include" {
  description = "METRICS_INCLUDE: only metric families whose name matches are posted (unanchored: write ^...$); the others are skipped as filtered_by_include. Checked by the function, not here: Terraform's RE2 is a different dialect."
  type        = string
  default     = ""
}

variable "metrics_exclude" {
  description = "METRICS_EXCLUDE: metric families whose name matches are skipped as filtered_by_exclude (unanchored: write ^...$)."
  type        = string
  default     = ""
}

variable "histogram_buckets" {
  description = "HISTOGRAM_BUCKETS: also post <name>_bucket series with an le dimension (one stream per bucket); the percentiles are derived without them."
  type        = bool
  default     = false
}

variable "scrape_timeout_ms" {
  description = "SCRAPE_TIMEOUT_MS: per-target scrape timeout in ms: the whole exchange, reading the body and parsing it as it arrives."
  type        = number
  default     = 10000

  validation {
    condition     = floor(var.scrape_timeout_ms) == var.scrape_timeout_ms && var.scrape_timeout_ms >= 100 && var.scrape_timeout_ms <= 300000
    error_message = "scrape_timeout_ms must be a whole number from 100 to 300000."
  }
}

variable "scrape_max_bytes" {
  description = "SCRAPE_MAX_BYTES: largest exposition accepted per target, in bytes after decompression; a larger one is refused (up=0) instead of the container being killed. The default, 32 MiB, is about 240k samples of the benchmark's exposition (150,000 of them, OCI's limit a minute, are about 20 MB); what a target holds is bounded by the memory budget too (a fifth of the function's memory), which refuses more with its reason: raise it together with the memory and SCRAPE_SAMPLE_LIMIT."
  type        = number
  default     = 33554432

  validation {
    condition     = floor(var.scrape_max_bytes) == var.scrape_max_bytes && var.scrape_max_bytes >= 1024 && var.scrape_max_bytes <= 536870912
    error_message = "scrape_max_bytes must be a whole number from 1024 to 536870912 (512 MiB)."
  }
}

variable "spool_max_series" {
  description = "SPOOL_MAX_SERIES: with a state store (STATE_BUCKET, or the CLI's --state-file): most undelivered series kept and replayed by later invocations with their original timestamps; over it the oldest are dropped and counted; 0 = no spool. A spooled series takes 1.5 KB of the memory budget's spool share (an eighth of FN_MEMORY): at most 10922 at 128 MB, 21845 at 256 MB, 87381 at 1024 MB; a value above what FN_MEMORY holds is a configuration error. Empty = the most memory_in_mbs holds. Needs state_bucket."
  type        = string
  default     = ""

  validation {
    condition     = var.spool_max_series == "" || (can(regex("^[0-9]+$", var.spool_max_series)) && try(tonumber(var.spool_max_series), -1) >= 0 && try(tonumber(var.spool_max_series), -1) <= 262144)
    error_message = "spool_max_series must be empty or a whole number from 0 to 262144."
  }
}

variable "scrape_sample_limit" {
  description = "SCRAPE_SAMPLE_LIMIT: most samples read from one target, counted while scanning: over it that target is up=0 and the others are posted (the byte cap alone does not bound memory: 6 MB of short series is 400k samples). Empty = 600 per MB of memory_in_mbs."
  type        = string
  default     = ""

  validation {
    condition     = var.scrape_sample_limit == "" || (can(regex("^[0-9]+$", var.scrape_sample_limit)) && try(tonumber(var.scrape_sample_limit), 0) >= 1 && try(tonumber(var.scrape_sample_limit), 0) <= 100000000)
    error_message = "scrape_sample_limit must be empty or a whole number from 1 to 100000000."
  }
}

variable "scrape_follow_redirects_to_other_hosts" {
  description = "SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS: follow a target's redirect to another host:port (same scheme only; credentials are never sent there)."
  type        = bool
  default     = false
}

variable "enable_scrape_bearer_token_secret" {
  description = "The targets need a bearer token from OCI Vault (set scrape_bearer_token_secret_ocid too): creates the policy to read that one secret. A bool, known at plan time, so that the secret's OCID may come from a resource of the same apply."
  type        = bool
  default     = false
}

variable "scrape_bearer_token_secret_ocid" {
  description = "SCRAPE_BEARER_TOKEN_SECRET_OCID: OCI Vault secret holding a bearer token sent to the targets (never logged). Create the secret outside Terraform so its value never enters the state. Empty = no token; set enable_scrape_bearer_token_secret = true with it."
  type        = string
  default     = ""

  validation {
    condition     = var.scrape_bearer_token_secret_ocid == "" || can(regex("^ocid1\\.vaultsecret\\.[a-z0-9_-]+\\.[a-z0-9_-]*\\.[A-Za-z0-9._-]+$", var.scrape_bearer_token_secret_ocid))
    error_message = "scrape_bearer_token_secret_ocid must be empty or a Vault secret OCID (ocid1.vaultsecret.oc1...)."
  }
}

variable "secret_cache_ttl_seconds" {
  description = "SECRET_CACHE_TTL_SECONDS: how long a fetched bearer token is reused while the container is warm, in seconds (the delay before a rotation is seen)."
  type        = number
  default     = 300

  validation {
    condition     = floor(var.secret_cache_ttl_seconds) == var.secret_cache_ttl_seconds && var.secret_cache_ttl_seconds >= 0 && var.secret_cache_ttl_seconds <= 86400
    error_message = "secret_cache_ttl_seconds must be a whole number from 0 to 86400."
  }
}

variable "oci_monitoring_endpoint" {
  description = "OCI_MONITORING_ENDPOINT: override of the Telemetry Ingestion (PostMetricData) endpoint."
  type        = string
  default     = ""

  validation {
    condition     = var.oci_monitoring_endpoint == "" || can(regex("^https?://[^/?#\\s]+", var.oci_monitoring_endpoint))
    error_message = "oci_monitoring_endpoint must be empty or an http(s) URL."
  }
}

variable "oci_secrets_endpoint" {
  description = "OCI_SECRETS_ENDPOINT: override of the Vault secrets endpoint."
  type        = string
  default     = ""

  validation {
    condition     = var.oci_secrets_endpoint == "" || can(regex("^https?://[^/?#\\s]+", var.oci_secrets_endpoint))
    error_message = "oci_secrets_endpoint must be empty or an http(s) URL."
  }
}

variable "post_calls_per_second" {
  description = "POST_CALLS_PER_SECOND: ceiling of PostMetricData calls started per second: auto = OCI's 50 per tenancy, of which the pacing takes the share other posters leave (it halves the rate on a 429 and climbs back); a number is a hard cap."
  type        = string
  default     = "auto"

  validation {
    condition     = lower(var.post_calls_per_second) == "auto" || can(regex("^[0-9]+$", var.post_calls_per_second)) && try(tonumber(var.post_calls_per_second) >= 1 && tonumber(var.post_calls_per_second) <= 1000, false)
    error_message = "post_calls_per_second must be auto (OCI's 50 calls/s per tenancy, shared adaptively) or a whole number from 1 to 1000 (a hard cap)."
  }
}

variable "post_concurrency" {
  description = "POST_CONCURRENCY: most PostMetricData batches held at once (in flight or waiting to be retried): the rate reaches at most this many calls per call latency. auto = what the rate needs at the latency measured (rate x latency x 1.5), 8 to 48 (48 reach OCI's 49 calls/s while a call takes up to ~1 s; above 8 only as many as a sixteenth of FN_MEMORY holds); a number is fixed (8 reach 49 calls/s only while a call takes up to ~160 ms)."
  type        = string
  default     = "auto"

  validation {
    condition     = lower(var.post_concurrency) == "auto" || can(regex("^[0-9]+$", var.post_concurrency)) && try(tonumber(var.post_concurrency) >= 1 && tonumber(var.post_concurrency) <= 64, false)
    error_message = "post_concurrency must be auto (as many as the rate needs at the measured latency, 8 to 48) or a whole number from 1 to 64."
  }
}

variable "post_timeout_ms" {
  description = "POST_TIMEOUT_MS: timeout of one PostMetricData attempt in ms (the SDK has none)."
  type        = number
  default     = 10000

  validation {
    condition     = floor(var.post_timeout_ms) == var.post_timeout_ms && var.post_timeout_ms >= 100 && var.post_timeout_ms <= 300000
    error_message = "post_timeout_ms must be a whole number from 100 to 300000."
  }
}

variable "function_timeout_seconds" {
  description = "FUNCTION_TIMEOUT_SECONDS: deadline in seconds used when an invocation carries no Fn-Deadline, e.g. from the CLI; the platform's Fn-Deadline (the function's timeout) is used as given. OCI sends timeout_in_seconds as Fn-Deadline. Keep it at most timeout_in_seconds."
  type        = number
  default     = 60

  validation {
    condition     = floor(var.function_timeout_seconds) == var.function_timeout_seconds && var.function_timeout_seconds >= 1 && var.function_timeout_seconds <= 3600
    error_message = "function_timeout_seconds must be a whole number from 1 to 3600."
  }
}

variable "dry_run" {
  description = "DRY_RUN: do everything except posting; an invocation body {\"dryRun\": true|false} decides for that invocation. For a first deployment you want to watch before it writes metrics."
  type        = bool
  default     = false
}

variable "forecast_price_per_million_datapoints" {
  description = "FORECAST_PRICE_PER_MILLION_DATAPOINTS: price of one million ingested datapoints, in your currency, for the cost forecast (see docs/cost.md). Empty = no cost shown."
  type        = string
  default     = ""

  validation {
    condition     = var.forecast_price_per_million_datapoints == "" || (can(regex("^[0-9]+(\\.[0-9]+)?$", var.forecast_price_per_million_datapoints)) && try(tonumber(var.forecast_price_per_million_datapoints), -1) >= 0 && try(tonumber(var.forecast_price_per_million_datapoints), -1) <= 1000000)
    error_message = "forecast_price_per_million_datapoints must be empty or a decimal number from 0 to 1000000, e.g. 0.0025."
  }
}

variable "forecast_free_datapoints_per_month" {
  description = "FORECAST_FREE_DATAPOINTS_PER_MONTH: datapoints a month the cost forecast counts as free (the part of your tenancy's free allowance left for prom2oci)."
  type        = number
  default     = 0

  validation {
    condition     = floor(var.forecast_free_datapoints_per_month) == var.forecast_free_datapoints_per_month && var.forecast_free_datapoints_per_month >= 0 && var.forecast_free_datapoints_per_month <= 1000000000000000
    error_message = "forecast_free_datapoints_per_month must be a whole number from 0 to 1000000000000000."
  }
}

variable "derived_series" {
  description = "DERIVED_SERIES: derived series produced from the previous scrape (see docs/mapping.md); each is one more metric stream per source series."
  type        = string
  default     = "rate,avg,quantiles"
}

variable "histogram_quantiles" {
  description = "HISTOGRAM_QUANTILES: quantiles posted per histogram series as <name>_pNN (0.99 -> _p99, 0.999 -> _p99_9)."
  type        = string
  default     = "0.5,0.9,0.99"
}

variable "state_bucket" {
  description = "STATE_BUCKET: Object Storage bucket keeping the previous scrape (for the derived series) and the spool between invocations. This configuration creates that private bucket (in compartment_ocid), with a policy for this function on that bucket only. Empty = no bucket, nothing derived."
  type        = string
  default     = ""

  validation {
    condition     = var.state_bucket == "" || can(regex("^[A-Za-z0-9._-]{1,256}$", var.state_bucket))
    error_message = "state_bucket must be empty or a bucket name (letters, digits, - _ ., up to 256 characters)."
  }
}

variable "pacing_board" {
  description = "PACING_BOARD: with STATE_BUCKET: share the posting rate evenly with the other deployments whose STATE_BUCKET is the same bucket (the shards of one configuration, or functions pointed at one bucket), through a small object each under prom2oci/pacing/ (docs/performance.md, \"Several deployments in one tenancy\"); false = each paces alone. Without STATE_BUCKET there is no board. The shards of shard_count share state_bucket, so one board."
  type        = bool
  default     = true
}

variable "function_dynamic_group" {
  description = "FUNCTION_DYNAMIC_GROUP: the dynamic group of the function's resource principal, named in the IAM policy statements the function suggests when OCI refuses a call (a response's iamStatement, an error's hint); Terraform sets it to the group it creates. Here: the name of that dynamic group. Empty = <name_prefix>-function."
  type        = string
  default     = ""

  validation {
    condition     = var.function_dynamic_group == "" || can(regex("^[A-Za-z0-9_.-]{1,100}$", var.function_dynamic_group))
    error_message = "function_dynamic_group must be empty or a dynamic group name (at most 100 letters, digits, _ . or -)."
  }
}

variable "object_storage_namespace" {
  description = "OBJECT_STORAGE_NAMESPACE: Object Storage namespace of STATE_BUCKET and SCRAPE_CONFIG_OBJECT (oci os ns get prints it); required with either. Empty = the tenancy's, read by Terraform (data.oci_objectstorage_namespace)."
  type        = string
  default     = ""

  validation {
    condition     = var.object_storage_namespace == "" || can(regex("^[a-z0-9]{1,64}$", var.object_storage_namespace))
    error_message = "object_storage_namespace must be empty or a namespace (lowercase letters and digits)."
  }
}

variable "force_destroy_state_bucket" {
  description = "terraform destroy empties the state bucket first (oci os object bulk-delete --force, run by Terraform after the function is gone; needs the oci CLI where terraform runs). false: follow the three-step tear-down in docs/deploy.md."
  type        = bool
  default     = false
}

variable "oci_object_storage_endpoint" {
  description = "OCI_OBJECT_STORAGE_ENDPOINT: override of the Object Storage endpoint."
  type        = string
  default     = ""
}

variable "state_max_age_seconds" {
  description = "STATE_MAX_AGE_SECONDS: a previous scrape older than this, in seconds, is not derived from."
  type        = number
  default     = 300

  validation {
    condition     = floor(var.state_max_age_seconds) == var.state_max_age_seconds && var.state_max_age_seconds >= 1 && var.state_max_age_seconds <= 86400
    error_message = "state_max_age_seconds must be a whole number from 1 to 86400."
  }
}

variable "scrape_concurrency" {
  description = "SCRAPE_CONCURRENCY: most targets scraped at once (static and discovered); the others wait their turn."
  type        = number
  default     = 32

  validation {
    condition     = floor(var.scrape_concurrency) == var.scrape_concurrency && var.scrape_concurrency >= 1 && var.scrape_concurrency <= 1000
    error_message = "scrape_concurrency must be from 1 to 1000."
  }
}

# OCI compute discovery: instances become scrape targets. Setting discovery_compartment_ocid also
# grants the function read-only access to instances, VNIC attachments and VNICs there (iam.tf) and
# opens the discovered ports from the function subnet (network.tf).

variable "enable_discovery" {
  description = "Discover compute instances (set discovery_compartment_ocid too): creates the read-only discovery policy and opens the discovered ports. A bool, known at plan time, so that the compartment's OCID may come from a resource of the same apply."
  type        = bool
  default     = false
}

variable "discovery_compartment_ocid" {
  description = "DISCOVERY_COMPARTMENT_OCID: discover the RUNNING compute instances of this compartment as targets (see docs/fleets.md). Empty = no discovery; set enable_discovery = true with it."
  type        = string
  default     = ""

  validation {
    condition     = var.discovery_compartment_ocid == "" || can(regex("^ocid1\\.(compartment|tenancy)\\.[a-z0-9_-]+\\.[a-z0-9_-]*\\.[A-Za-z0-9._-]+$", var.discovery_compartment_ocid))
    error_message = "discovery_compartment_ocid must be empty or a compartment OCID."
  }
}

variable "discovery_include_subcompartments" {
  description = "DISCOVERY_INCLUDE_SUBCOMPARTMENTS: also discover in every sub-compartment (needs inspect compartments). Adds that statement to the policy."
  type        = bool
  default     = false
}

variable "discovery_tag" {
  description = "DISCOVERY_TAG: only instances carrying these tags: key=value (freeform), namespace.key=value (defined), key alone = any value; several must all match."
  type        = string
  default     = ""
}

variable "discovery_scheme" {
  description = "DISCOVERY_SCHEME: scheme of the discovered targets."
  type        = string
  default     = "http"

  validation {
    condition     = contains(["http", "https"], var.discovery_scheme)
    error_message = "discovery_scheme must be http or https."
  }
}

variable "discovery_port" {
  description = "DISCOVERY_PORT: port scraped on a discovered instance without a port tag."
  type        = number
  default     = 9100

  validation {
    condition     = floor(var.discovery_port) == var.discovery_port && var.discovery_port >= 1 && var.discovery_port <= 65535
    error_message = "discovery_port must be a TCP port (1-65535)."
  }
}

variable "discovery_path" {
  description = "DISCOVERY_PATH: path scraped on a discovered instance without a path tag."
  type        = string
  default     = "/metrics"
}

variable "discovery_port_tag" {
  description = "DISCOVERY_PORT_TAG: instance tag listing its exporters' ports, e.g. 9100,3000 or 9100,8080/actuator/prometheus (one target each). Add those ports to discovery_scrape_ports too."
  type        = string
  default     = "prometheus_port"
}

variable "discovery_path_tag" {
  description = "DISCOVERY_PATH_TAG: instance tag overriding DISCOVERY_PATH for its ports that name no path."
  type        = string
  default     = "prometheus_path"
}

variable "discovery_vnic" {
  description = "DISCOVERY_VNIC: whose private IP is scraped: primary, or the display name of a secondary VNIC."
  type        = string
  default     = "primary"
}

variable "discovery_dimensions" {
  description = "DISCOVERY_DIMENSIONS: dimensions a discovered target adds besides resourceId (the instance OCID) and instance."
  type        = string
  default     = ""
}

variable "discovery_ttl_seconds" {
  description = "DISCOVERY_TTL_SECONDS: how long a discovery result is reused while the container is warm, in seconds."
  type        = number
  default     = 60

  validation {
    condition     = floor(var.discovery_ttl_seconds) == var.discovery_ttl_seconds && var.discovery_ttl_seconds >= 0 && var.discovery_ttl_seconds <= 86400
    error_message = "discovery_ttl_seconds must be a whole number from 0 to 86400."
  }
}

variable "discovery_timeout_ms" {
  description = "DISCOVERY_TIMEOUT_MS: time allowed for one discovery in ms, every API call and page included."
  type        = number
  default     = 10000

  validation {
    condition     = floor(var.discovery_timeout_ms) == var.discovery_timeout_ms && var.discovery_timeout_ms >= 100 && var.discovery_timeout_ms <= 300000
    error_message = "discovery_timeout_ms must be a whole number from 100 to 300000."
  }
}

variable "oci_compute_endpoint" {
  description = "OCI_COMPUTE_ENDPOINT: override of the Compute/VCN (iaas) endpoint used by discovery."
  type        = string
  default     = ""
}

variable "oci_identity_endpoint" {
  description = "OCI_IDENTITY_ENDPOINT: override of the Identity endpoint used by discovery (sub-compartments)."
  type        = string
  default     = ""
}

variable "discovery_scrape_ports" {
  description = "Ports the discovered instances' port tags name, opened from the function subnet besides discovery_port (not a function setting: tags are read at run time)."
  type        = list(number)
  default     = []

  validation {
    condition     = alltrue([for p in var.discovery_scrape_ports : p >= 1 && p <= 65535])
    error_message = "discovery_scrape_ports must hold TCP ports (1-65535)."
  }
}

variable "discovery_target_cidrs" {
  description = "Where the discovered instances are (their subnets), for the egress rules of the new subnet. Empty = scrape_target_cidrs, else the new VCN's CIDR."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.discovery_target_cidrs : can(cidrhost(c, 0))])
    error_message = "discovery_target_cidrs must hold IPv4 CIDR blocks such as 10.0.1.0/24."
  }
}

# ---------------------------------------------------------------------------------------------
# The function resource
# ---------------------------------------------------------------------------------------------

variable "function_name" {
  description = "Display name of the function. Must equal `name` in func.yaml, so that `fn deploy` updates this function instead of creating another."
  type        = string
  default     = "prom2oci"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,254}$", var.function_name))
    error_message = "function_name must start with a letter and use only letters, digits, _ and -."
  }
}

variable "function_image" {
  description = "Image of the first deployment, built for application_shape's platform and pushed to OCIR (docs/deploy.md, step 4: docker buildx build --platform ... --push), e.g. fra.ocir.io/<namespace>/prom2oci/prom2oci:0.1.0. Later `fn deploy` updates the image and Terraform ignores that change."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^\\s:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.function_image))
    error_message = "function_image must be a full image reference with a tag or digest, e.g. fra.ocir.io/<namespace>/prom2oci/prom2oci:0.0.1."
  }
}

variable "application_shape" {
  description = "Shape of the Functions application; the image's platform must match: GENERIC_X86 = linux/amd64, GENERIC_ARM = linux/arm64, GENERIC_X86_ARM = both (a multi-platform image)."
  type        = string
  default     = "GENERIC_X86"

  validation {
    condition     = contains(["GENERIC_X86", "GENERIC_ARM", "GENERIC_X86_ARM"], var.application_shape)
    error_message = "application_shape must be GENERIC_X86, GENERIC_ARM or GENERIC_X86_ARM."
  }
}

# Starting points for a once-a-minute scrape; `npm run bench` measures what they leave spare.
# They equal memory/timeout in func.yaml (a test checks it), because `fn deploy` applies
# func.yaml's values and the next `terraform apply` would otherwise change them back.
variable "memory_in_mbs" {
  description = "Memory of the function (MB): 128, 256, 512, 1024, 2048 or 3072, the values of memoryInMBs in OCI's \"Changing Default Memory and Timeout Settings\" (docs.oracle.com/iaas/Content/Functions/Tasks/functionscustomizing.htm)."
  type        = number
  default     = 256

  validation {
    condition     = contains([128, 256, 512, 1024, 2048, 3072], var.memory_in_mbs)
    error_message = "memory_in_mbs must be one of 128, 256, 512, 1024, 2048 or 3072 (OCI Functions, \"Changing Default Memory and Timeout Settings\": memoryInMBs is one of these)."
  }
}

variable "timeout_in_seconds" {
  description = "Timeout of a synchronous invocation (s). The function watches its deadline and ends cleanly before it."
  type        = number
  default     = 120

  validation {
    condition     = floor(var.timeout_in_seconds) == var.timeout_in_seconds && var.timeout_in_seconds >= 5 && var.timeout_in_seconds <= 300
    error_message = "timeout_in_seconds must be a whole number from 5 to 300."
  }
}

variable "detached_mode_timeout_in_seconds" {
  description = "Timeout of a detached (asynchronous) invocation (s)."
  type        = number
  default     = 120

  validation {
    condition     = floor(var.detached_mode_timeout_in_seconds) == var.detached_mode_timeout_in_seconds && var.detached_mode_timeout_in_seconds >= 5 && var.detached_mode_timeout_in_seconds <= 3600
    error_message = "detached_mode_timeout_in_seconds must be a whole number from 5 to 3600."
  }
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "create_network" {
  description = "Create a VCN with a private subnet and a service gateway for the function (true), or use subnet_id (false). A bool, known at plan time: what is created never depends on an OCID that may be unknown until apply."
  type        = bool
  default     = true
}

variable "subnet_id" {
  description = "Existing subnet for the application (e.g. in the scrape target's VCN), with create_network = false. It must route to a service gateway for all Oracle services and allow egress to them (443) and to the targets' ports."
  type        = string
  default     = ""

  validation {
    condition     = var.subnet_id == "" || can(regex("^ocid1\\.subnet\\.[a-z0-9_-]+\\.[a-z0-9_-]*\\.[A-Za-z0-9._-]+$", var.subnet_id))
    error_message = "subnet_id must be empty or a subnet OCID (ocid1.subnet.oc1...)."
  }
}

variable "vcn_cidr" {
  description = "CIDR of the new VCN (only with create_network)."
  type        = string
  default     = "10.80.0.0/16"

  validation {
    condition     = can(cidrhost(var.vcn_cidr, 0))
    error_message = "vcn_cidr must be an IPv4 CIDR block such as 10.80.0.0/16."
  }
}

variable "subnet_cidr" {
  description = "CIDR of the new private subnet, inside vcn_cidr (only with create_network)."
  type        = string
  default     = "10.80.1.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be an IPv4 CIDR block such as 10.80.1.0/24."
  }
}

variable "scrape_target_cidrs" {
  description = "Where the scrape targets are, for the egress rules of the new subnet (on every scrape port). Empty = derived from metrics_endpoint: a /32 per IP address on its port, a host name the new VCN's CIDR (0.0.0.0/0 with enable_nat_gateway). Every IP target must fall inside these CIDRs (apply refuses otherwise)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.scrape_target_cidrs : can(cidrhost(c, 0))])
    error_message = "scrape_target_cidrs must hold IPv4 CIDR blocks such as 203.0.113.10/32."
  }
}

variable "enable_nat_gateway" {
  description = "Add a NAT gateway to the new VCN, for scrape targets on the internet (only with create_network)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------------------------

variable "schedule_mode" {
  description = "How the function is invoked every minute: alarm (default: an always-firing Monitoring alarm on the function's oci_faas FunctionInvocationCount repeats every minute -> Notifications topic -> function) or resource_scheduler (opt-in: an OCI Resource Scheduler cron; no OCI document offers a per-minute cadence, and its SUCCEEDED status only means the detached run was accepted)."
  type        = string
  default     = "alarm"

  validation {
    condition     = contains(["alarm", "resource_scheduler"], var.schedule_mode)
    error_message = "schedule_mode must be alarm or resource_scheduler."
  }
}

variable "schedule_cron" {
  description = "Cron expression of the Resource Scheduler schedule (UTC), only with schedule_mode = resource_scheduler. Default: every minute."
  type        = string
  default     = "* * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.schedule_cron))) == 5
    error_message = "schedule_cron must have five fields (minute hour day-of-month month day-of-week)."
  }
}

variable "enable_daily_kick" {
  description = "schedule_mode = alarm: also invoke the function once a day from a Resource Scheduler schedule (daily_kick_cron), so the trigger alarm, whose absent() stops firing after 72 h without any invocation, always restarts by itself."
  type        = bool
  default     = true
}

variable "daily_kick_cron" {
  description = "Cron expression (UTC) of the daily kick (enable_daily_kick). Default: every day at 04:17."
  type        = string
  default     = "17 4 * * *"

  validation {
    condition     = can(regex("^[0-9]{1,2} [0-9]{1,2} \\* \\* \\*$", trimspace(var.daily_kick_cron)))
    error_message = "daily_kick_cron must fire once a day: \"<minute> <hour> * * *\"."
  }
}

# ---------------------------------------------------------------------------------------------
# Logging and alarms
# ---------------------------------------------------------------------------------------------

variable "enable_function_logs" {
  description = "Send the function's stdout/stderr (its one-line JSON summaries) to OCI Logging."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the function log (days, 30 to 180 in steps of 30)."
  type        = number
  default     = 30

  validation {
    condition     = contains([30, 60, 90, 120, 150, 180], var.log_retention_days)
    error_message = "log_retention_days must be one of 30, 60, 90, 120, 150 or 180."
  }
}

variable "enable_alarms" {
  description = "Create the alarms a user of this function needs first: a target is down (up == 0), the function is failing or not invoked (its oci_faas metrics), and it stopped posting (up absent)."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (confirm the e-mail OCI sends). Empty = topic without subscription."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

variable "target_down_pending_duration" {
  description = "How long a target must stay down before its alarm fires (ISO 8601, PT1M to PT1H)."
  type        = string
  default     = "PT3M"

  validation {
    condition     = can(regex("^PT([1-9]|[1-5][0-9]|60)M$|^PT1H$", var.target_down_pending_duration))
    error_message = "target_down_pending_duration must be PT1M to PT60M or PT1H."
  }
}

# ---------------------------------------------------------------------------------------------
# SLO alarms (on the derived series; they need state_bucket)
# ---------------------------------------------------------------------------------------------

variable "slo_latency_histogram" {
  description = "The main HTTP latency histogram (its family name); the p99 alarm reads its derived <name>_p99 series by route."
  type        = string
  default     = "http_request_duration_seconds"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]*$", var.slo_latency_histogram))
    error_message = "slo_latency_histogram must be a metric name (letters, digits, _; starting with a letter)."
  }
}

variable "slo_p99_latency_seconds" {
  description = "Alarm when the p99 latency of any route is above this many seconds for slo_pending_duration. 0 = no alarm."
  type        = number
  default     = 0

  validation {
    condition     = var.slo_p99_latency_seconds >= 0
    error_message = "slo_p99_latency_seconds must be 0 (no alarm) or a positive number of seconds."
  }
}

variable "slo_error_counter" {
  description = "The counter of failures whose rate is alarmed on (its derived <name>_rate series), e.g. orders_failed_total, or a 5xx counter."
  type        = string
  default     = "orders_failed_total"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]*$", var.slo_error_counter))
    error_message = "slo_error_counter must be a metric name (letters, digits, _; starting with a letter)."
  }
}

variable "slo_error_rate_per_second" {
  description = "Alarm when slo_error_counter increases faster than this per second (summed over its series) for slo_pending_duration. 0 = no alarm."
  type        = number
  default     = 0

  validation {
    condition     = var.slo_error_rate_per_second >= 0
    error_message = "slo_error_rate_per_second must be 0 (no alarm) or a positive rate."
  }
}

variable "slo_pending_duration" {
  description = "How long an SLO must be breached before its alarm fires (ISO 8601, PT1M to PT1H)."
  type        = string
  default     = "PT5M"

  validation {
    condition     = contains(["PT1M", "PT2M", "PT3M", "PT5M", "PT10M", "PT15M", "PT30M", "PT1H"], var.slo_pending_duration)
    error_message = "slo_pending_duration must be one of PT1M, PT2M, PT3M, PT5M, PT10M, PT15M, PT30M, PT1H."
  }
}
