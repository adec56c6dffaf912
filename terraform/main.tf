# Names and derived values shared by the other files.
locals {
  resources_compartment_ocid = var.resources_compartment_ocid != "" ? var.resources_compartment_ocid : var.compartment_ocid

  # The scrape targets, parsed from METRICS_ENDPOINT: [{ url, scheme, port }].
  scrape_targets = [
    for u in split(",", var.metrics_endpoint) : {
      url      = trimspace(u)
      scheme   = lower(regex("^([A-Za-z]+)://", trimspace(u))[0])
      hostport = regex("^[A-Za-z]+://(?:[^/@]*@)?([^/?#]+)", trimspace(u))[0]
    } if trimspace(u) != ""
  ]
  scrape_ports = distinct([
    for t in local.scrape_targets : tonumber(
      length(regexall(":([0-9]+)$", t.hostport)) > 0 ? regex(":([0-9]+)$", t.hostport)[0] : (t.scheme == "https" ? "443" : "80")
    )
  ])
}
