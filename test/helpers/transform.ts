/**
 * The transform as production runs it, drained whole for a test: a TargetTransform pulled batch by
 * batch at OCI's streams-per-call (as the publisher's DataSource does), so the metrics come in the
 * order they are posted (each target's derived series after all of its samples).
 */
import type { NotDerivedCounts } from '../../src/types/state';
import { OCI_LIMITS } from '../../src/transform/limits';
import { TargetTransform } from '../../src/transform/targetTransform';
import type { MetricFamily, OciMetric, SkippedSample, TargetContext, TransformOptions } from '../../src/types/model';
import type { TargetState } from '../../src/types/state';

/** Everything one target's transform produced. */
export interface TransformResult {
  metrics: OciMetric[];
  /** How many of `metrics` are derived (`_rate`, `_avg`, `_pNN`) rather than one exposition sample each. */
  derivedCount: number;
  /** Derived series not produced, by reason. */
  notDerived: NotDerivedCounts;
  /** This scrape's state for the next invocation (when derivation is on and state is usable). */
  state?: TargetState;
  skipped: SkippedSample[];
}

/** Transforms one target's families as production does, batch by batch, and collects every outcome. */
export function transformAll(
  families: MetricFamily[],
  target: TargetContext,
  opts: TransformOptions,
  batchSize: number = OCI_LIMITS.maxStreamsPerCall,
): TransformResult {
  const transform = new TargetTransform(families, target, opts);
  const metrics: OciMetric[] = [];
  for (let batch = transform.next(batchSize); batch; batch = transform.next(batchSize)) {
    if (batch.length > batchSize) throw new Error(`a batch of ${batch.length} metrics, more than the ${batchSize} asked for`);
    for (const m of batch) metrics.push(m);
  }
  if (transform.series !== metrics.length) throw new Error(`the transform counted ${transform.series} series but handed out ${metrics.length}`);
  return {
    metrics,
    derivedCount: transform.derivedCount,
    notDerived: transform.notDerived,
    ...(transform.state ? { state: transform.state } : {}),
    skipped: transform.skipped,
  };
}
