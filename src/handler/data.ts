/**
 * The data phase's plumbing between the targets' transforms and the publisher: batches are pulled
 * target after target (each target's series form one contiguous range of the invocation's series,
 * which is how the summary attributes outcomes), outcomes are kept as one byte per series, and a
 * drained transform is dropped so its target keeps only its counts.
 */
import { Outcome, type BatchSource, type PublishBatch } from '../publish/publisher';
import { drainInOrder } from '../transform/targetTransform';
import { toSpoolEntry, type SpoolEntry } from '../state/spool';
import type { OciMetric } from '../types/model';
import type { NotDerivedCounts } from '../types/state';
import type { PreparedTarget } from './summary';

/** Copies a drained transform's counts into its target and drops the transform. */
function finish(p: PreparedTarget): void {
  const t = p.transform;
  if (t === undefined) return;
  p.series = t.series;
  p.derived = t.derivedCount;
  p.skipped = t.skipped;
  delete p.transform;
}

/** Every metric of a target in the transform's order (dry run: the response lists them). */
export function drainTarget(p: PreparedTarget): OciMetric[] {
  if (p.transform === undefined) return [];
  const metrics = drainInOrder(p.transform);
  finish(p);
  return metrics;
}

/** Dry run: the series (and derived series not made) of the target with the drop rules off (its second transform, drained and dropped). */
export function withoutDropRules(p: PreparedTarget): { series: number; notDerived: NotDerivedCounts } {
  const t = p.withoutDropRules;
  if (t === undefined) return { series: p.series, notDerived: p.notDerived };
  while (t.next() !== undefined);
  delete p.withoutDropRules;
  return { series: t.series, notDerived: t.notDerived };
}

/** The invocation's data as a batch source for publishBatches; a batch's tag is the index of its first series. */
export class DataSource {
  /** Series handed out so far. */
  total = 0;
  private target = 0;
  private outcome = new Uint8Array(1024);

  constructor(private readonly prepared: PreparedTarget[]) {}

  /** The next batch, from the first target that still has series. */
  readonly next: BatchSource = () => {
    while (this.target < this.prepared.length) {
      const p = this.prepared[this.target];
      const metrics = p.transform?.next();
      if (metrics) {
        const batch: PublishBatch = { metrics, tag: this.total };
        this.total += metrics.length;
        return batch;
      }
      finish(p);
      this.target++;
    }
    return undefined;
  };

  /** Keeps a batch's outcomes. */
  record(batch: PublishBatch, outcomes: Uint8Array): void {
    const end = batch.tag + outcomes.length;
    if (end > this.outcome.length) {
      const grown = new Uint8Array(Math.max(end, this.outcome.length * 2));
      grown.set(this.outcome);
      this.outcome = grown;
    }
    this.outcome.set(outcomes, batch.tag);
  }

  /** One outcome per series handed out, in order. */
  outcomes(): Uint8Array {
    return this.outcome.subarray(0, this.total);
  }
}

/**
 * The series the outage spool keeps, collected as their outcomes arrive (the metrics themselves
 * are gone after their call): undelivered ones, and failed ones in case a 401/404 turns out to
 * have stopped the posting (cured by an IAM or clock fix). A 2xx is never kept.
 */
export class UndeliveredSeries {
  private readonly undelivered: NewestEntries;
  private readonly failed: NewestEntries;

  constructor(private readonly max: number) {
    this.undelivered = new NewestEntries(max);
    this.failed = new NewestEntries(max);
  }

  /** Keeps the spool entries of a batch's undelivered and failed series. */
  record(batch: PublishBatch, outcomes: Uint8Array): void {
    outcomes.forEach((o, i) => {
      if (o === Outcome.Undelivered) this.undelivered.add(batch.tag + i, batch.metrics[i]);
      else if (o === Outcome.Failed) this.failed.add(batch.tag + i, batch.metrics[i]);
    });
  }

  /**
   * The newest `max` entries to spool, in series order (the failed ones only when the posting
   * stopped on a 401/404), and how many older ones did not fit.
   */
  entries(fatal: boolean): { entries: SpoolEntry[]; overMax: number } {
    const lists = fatal ? [this.undelivered, this.failed] : [this.undelivered];
    const kept = lists.flatMap((l) => l.kept()).sort((a, b) => a[0] - b[0]);
    const over = Math.max(0, kept.length - this.max);
    return { entries: kept.slice(over).map(([, e]) => e), overMax: over + lists.reduce((n, l) => n + l.trimmed, 0) };
  }
}

/**
 * The entries with the highest series numbers, at most `max` (plus slack): an outage of a large
 * scrape must not build one entry per series before the spool's bound applies.
 */
class NewestEntries {
  private items: [number, SpoolEntry][] = [];
  /** Entries dropped because newer ones filled the bound. */
  trimmed = 0;

  constructor(private readonly max: number) {}

  /** Adds one series' entry; trims when twice the bound is held (amortised). */
  add(seq: number, metric: OciMetric): void {
    this.items.push([seq, toSpoolEntry(metric)]);
    if (this.items.length >= 2 * this.max + 1024) this.trim();
  }

  /** The kept entries, at most `max`, the newest. */
  kept(): [number, SpoolEntry][] {
    this.trim();
    return this.items;
  }

  /** Keeps the newest `max` entries. */
  private trim(): void {
    const over = this.items.length - this.max;
    if (over <= 0) return;
    this.items.sort((a, b) => a[0] - b[0]);
    this.items = this.items.slice(over);
    this.trimmed += over;
  }
}
