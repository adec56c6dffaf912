/**
 * The wiring of a Prometheus configuration (SCRAPE_CONFIG): its jobs' targets as scrape targets,
 * and each target's transform options (its OCI destination). The rules themselves are pure
 * modules: src/discovery/jobTargets.ts (targets), src/transform/jobLabels.ts (samples).
 */
import type { ScrapeConfigFile } from '../config/scrapeConfig';
import { jobTargets } from '../discovery/jobTargets';
import type { Shard } from '../discovery/shard';
import type { DiscoveredTarget } from '../discovery/targets';
import type { TransformOptions } from '../types/model';
import type { ScrapeConfigReport, ScrapeTarget } from './summary';

/**
 * The scrape targets of every job (refused ones included: they are reported up=0, never requested);
 * with a shard, only its own (the others' are counted in the report, never requested).
 */
export function configTargets(
  cfg: ScrapeConfigFile,
  discovered: readonly DiscoveredTarget[],
  shard?: Shard,
): { targets: ScrapeTarget[]; report: ScrapeConfigReport } {
  const { targets, reports } = jobTargets(cfg.jobs, discovered, shard);
  const scrapeTargets = targets.map((t): ScrapeTarget => {
    const { instance, ...own } = t.labels;
    return {
      url: t.url,
      instance: instance ?? '',
      dimensions: own,
      job: t.job.name,
      ...(t.resourceId ? { resourceId: t.resourceId } : {}),
      config: {
        rules: {
          targetLabels: t.labels,
          honorLabels: t.job.honorLabels,
          honorTimestamps: t.job.honorTimestamps,
          metricRelabel: t.job.metricRelabelConfigs,
          limits: {
            sampleLimit: t.job.sampleLimit,
            labelLimit: t.job.labelLimit,
            labelNameLengthLimit: t.job.labelNameLengthLimit,
            labelValueLengthLimit: t.job.labelValueLengthLimit,
          },
        },
        timeoutMs: t.timeoutMs,
        ...(t.job.auth ? { auth: t.job.auth } : {}),
        ...(t.refused ? { refused: t.refused } : {}),
        ...(t.namespace ? { namespace: t.namespace } : {}),
        ...(t.compartmentId ? { compartmentId: t.compartmentId } : {}),
        ...(t.resourceGroup ? { resourceGroup: t.resourceGroup } : {}),
      },
    };
  });
  const report: ScrapeConfigReport = { jobs: reports, notes: cfg.notes };
  // A shard without targets while other shards have some is not a failure: the shard reports it (summary.shard).
  const otherShards = reports.reduce((n, r) => n + (r.otherShards ?? 0), 0);
  if (scrapeTargets.length === 0 && otherShards === 0) {
    const dropped = reports.reduce((n, r) => n + r.dropped, 0);
    report.noTargets =
      dropped > 0
        ? `relabel_configs dropped every target of the configuration (${reports.map((r) => `job "${r.job}": ${r.dropped} dropped`).join(', ')})`
        : `the configuration lists no target (${reports.map((r) => `job "${r.job}"`).join(', ')}: no static_configs targets, and no discovered instance)`;
  }
  return { targets: scrapeTargets, report };
}

/**
 * A target's transform options: a job's target posts to its own destination (the reserved
 * `__oci_*` labels, else the settings) and takes no EXTRA_DIMENSIONS (its labels are its dimensions).
 */
export function targetOptions(target: ScrapeTarget, base: TransformOptions): TransformOptions {
  const c = target.config;
  if (!c) return base;
  return {
    ...base,
    extraDimensions: {},
    namespace: c.namespace ?? base.namespace,
    compartmentId: c.compartmentId ?? base.compartmentId,
    resourceGroup: c.resourceGroup ?? base.resourceGroup,
  };
}
