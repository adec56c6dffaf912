/** What one invocation's pipeline needs from the outside; created once per warm container (src/handler/handler.ts). */
import type { ConfigObjectSource } from '../config/configObject';
import type { Settings } from '../config/settings';
import type { FleetDiscovery } from '../discovery/discovery';
import type { Logger } from '../log';
import type { BearerTokenSource } from '../oci/secrets';
import type { PostBatch } from '../publish/sink';
import type { PacingBoard } from '../state/board';
import type { StateStore } from '../state/store';

export interface Runtime {
  settings: Settings;
  log: Logger;
  /** The PostMetricData call (created lazily, reused). */
  postBatch(): PostBatch;
  /** The bearer token source when a secret is configured. */
  tokenSource(): BearerTokenSource | undefined;
  /** A cached reader of one Vault secret (a job's credentials, SCRAPE_CONFIG), created on first use. */
  secretSource?(secretId: string): BearerTokenSource;
  /** The pacing board (PACING_BOARD in STATE_BUCKET; created lazily, reused); undefined when there is none. */
  pacingBoard?(): PacingBoard | undefined;
  /** The state store (created lazily, reused); undefined when it is off. Throws StateError when it cannot be created. */
  stateStore?(): StateStore | undefined;
  /**
   * A dry run writes the state too: true only for a store of this process (the CLI's memory or
   * state file, HandlerOptions.localStateStore), never for the function's Object Storage state.
   */
  dryRunWritesState?: boolean;
  /** The configuration object when SCRAPE_CONFIG_OBJECT is set (created lazily; holds the parsed file and its ETag while warm). */
  configObject?(): ConfigObjectSource | undefined;
  /** OCI compute discovery when DISCOVERY_COMPARTMENT_OCID is set (created lazily, reused while warm). */
  discovery?(): FleetDiscovery | undefined;
  now?: () => number;
}
