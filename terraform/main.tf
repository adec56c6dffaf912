# Names and derived values shared by the other files.
locals {
  resources_compartment_ocid = var.resources_compartment_ocid != "" ? var.resources_compartment_ocid : var.compartment_ocid

  # The scrape targets, parsed from METRICS_ENDPOINT: [{ url, hostport, port }].
  scrape_target_urls = [for u in split(",", var.metrics_endpoint) : trimspace(u) if trimspace(u) != ""]
  scrape_targets = [
    for u in local.scrape_target_urls : {
      url      = u
      hostport = regex("^[A-Za-z]+://(?:[^/@]*@)?([^/?#]+)", u)[0]
      port = tonumber(
        length(regexall(":([0-9]+)$", regex("^[A-Za-z]+://(?:[^/@]*@)?([^/?#]+)", u)[0])) > 0
        ? regex(":([0-9]+)$", regex("^[A-Za-z]+://(?:[^/@]*@)?([^/?#]+)", u)[0])[0]
        : (lower(regex("^([A-Za-z]+)://", u)[0]) == "https" ? "443" : "80")
      )
    }
  ]
  scrape_ports = distinct([for t in local.scrape_targets : t.port])
}
