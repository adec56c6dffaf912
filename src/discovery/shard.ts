/**
 * Shards: which targets one of N functions scrapes (SHARD=i/N). A target belongs to shard i when
 * Prometheus' hashmod of its address (MD5, the `hashmod` relabel action's hash: src/relabel/relabel.ts)
 * mod N is i, so a Prometheus configuration ending with `hashmod` + `keep` on `__address__` splits
 * the same targets the same way. Pure, no I/O.
 */
import { hashmod } from '../relabel/relabel';

/** This function's shard: `index` of `count` (0 <= index < count). */
export interface Shard {
  index: number;
  count: number;
}

/** True when the target at `address` (host:port after target relabelling) is this shard's; every target without a shard. */
export function inShard(address: string, shard: Shard | undefined): boolean {
  return shard === undefined || Number(hashmod(address, BigInt(shard.count))) === shard.index;
}

/** A shard as written in SHARD and in the response: `i/N`. */
export function shardText(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/** The self-metrics' `shard` dimension value: `i/N` when the targets are split (N > 1); none for one function, whose streams stay as before. */
export function shardDimension(shard: Shard | undefined): string | undefined {
  return shard !== undefined && shard.count > 1 ? shardText(shard) : undefined;
}
