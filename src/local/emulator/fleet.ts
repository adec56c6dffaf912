/**
 * A simulated compute fleet behind the emulator's Compute, VCN and Identity API routes, as OCI
 * answers them (API version 20160918), for discovery to be tested with the real SDK:
 *   GET /20160918/instances?compartmentId=&lifecycleState=&limit=&page=
 *   GET /20160918/vnicAttachments?compartmentId=&instanceId=&limit=&page=
 *   GET /20160918/vnics/{vnicId}
 *   GET /20160918/compartments?compartmentId=&lifecycleState=&limit=&page=
 * Lists are paginated with an opaque `opc-next-page` token (page size: the smaller of `limit` and
 * `pageSize`); instances and VNIC attachments keep their lifecycle states (a terminated instance
 * stays listed as TERMINATED, its attachment DETACHED); a compartment in `deniedCompartments`
 * answers 404 NotAuthorizedOrNotFound, as OCI does when no policy grants the call.
 * Request signatures are verified by the server before these handlers run.
 */
import { randomBytes } from 'node:crypto';

type InstanceState = 'PROVISIONING' | 'RUNNING' | 'STARTING' | 'STOPPING' | 'STOPPED' | 'TERMINATING' | 'TERMINATED';

interface FleetVnic {
  id: string;
  attachmentId: string;
  privateIp: string;
  isPrimary: boolean;
  displayName: string;
}

export interface FleetInstance {
  id: string;
  compartmentId: string;
  displayName: string;
  availabilityDomain: string;
  faultDomain: string;
  shape: string;
  lifecycleState: InstanceState;
  freeformTags: Record<string, string>;
  definedTags: Record<string, Record<string, unknown>>;
  timeCreated: string;
  vnics: FleetVnic[];
}

interface FleetCompartment {
  id: string;
  parentId: string;
  name: string;
  lifecycleState: 'ACTIVE' | 'DELETED';
}

/** What a new instance may be given; the rest is made up. */
interface NewInstance {
  compartmentId: string;
  displayName?: string;
  availabilityDomain?: string;
  faultDomain?: string;
  shape?: string;
  lifecycleState?: InstanceState;
  freeformTags?: Record<string, string>;
  definedTags?: Record<string, Record<string, unknown>>;
  /** Private IP of the primary VNIC (default 127.0.0.1: the simulated exporters listen on loopback). */
  privateIp?: string;
  /** Secondary VNICs by display name -> private IP. */
  secondaryVnics?: Record<string, string>;
}

/** An API answer, or an OCI error. */
type FleetResponse = { status: number; body: unknown; headers?: Record<string, string> } | { status: number; code: string; message: string };

export const FLEET_API_PREFIX = '/20160918/';

/** The fleet's API routes, as named in the path. */
type FleetApi = 'instances' | 'vnicAttachments' | 'vnics' | 'compartments';

/** An OCID-shaped id of a kind (instance, vnic...). */
function ocid(kind: string): string {
  return `ocid1.${kind}.oc1.emu.${randomBytes(12).toString('hex')}`;
}

/** A page token: opaque to the client, an offset here. */
function pageToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

/** The offset a token stands for, or undefined when the token is not one of ours. */
function offsetOf(token: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

const error = (status: number, code: string, message: string): FleetResponse => ({ status, code, message });
const notAuthorized = (what: string): FleetResponse => error(404, 'NotAuthorizedOrNotFound', `Authorization failed or requested resource not found (${what})`);

/** The simulated fleet and its API. */
export class Fleet {
  readonly instances = new Map<string, FleetInstance>();
  readonly compartments = new Map<string, FleetCompartment>();
  /** Compartments whose calls answer 404 (no policy for them). */
  readonly deniedCompartments = new Set<string>();
  /** APIs that answer 404 everywhere (the policy lacks that grant). */
  readonly deniedApis = new Set<FleetApi>();
  /** Largest page served (the request's `limit` may ask for less). */
  pageSize = 100;
  /** Called after each page of a list is served: a test changes the fleet between two pages with it. */
  afterPage?: (api: FleetApi, offset: number) => void;
  private created = 0;

  /** Adds a compartment under a parent; returns it. */
  addCompartment(parentId: string, name: string): FleetCompartment {
    const c: FleetCompartment = { id: ocid('compartment'), parentId, name, lifecycleState: 'ACTIVE' };
    this.compartments.set(c.id, c);
    return c;
  }

  /** Adds an instance (RUNNING unless told otherwise) with a primary VNIC; returns it. */
  addInstance(n: NewInstance): FleetInstance {
    const seq = ++this.created;
    const vnic = (displayName: string, privateIp: string, isPrimary: boolean): FleetVnic => ({
      id: ocid('vnic'),
      attachmentId: ocid('vnicattachment'),
      privateIp,
      isPrimary,
      displayName,
    });
    const inst: FleetInstance = {
      id: ocid('instance'),
      compartmentId: n.compartmentId,
      displayName: n.displayName ?? `instance-${seq}`,
      availabilityDomain: n.availabilityDomain ?? `Uocm:EMU-AD-${(seq % 3) + 1}`,
      faultDomain: n.faultDomain ?? `FAULT-DOMAIN-${(seq % 3) + 1}`,
      shape: n.shape ?? 'VM.Standard.E4.Flex',
      lifecycleState: n.lifecycleState ?? 'RUNNING',
      freeformTags: { ...(n.freeformTags ?? {}) },
      definedTags: structuredClone(n.definedTags ?? {}),
      // Distinct, increasing creation times keep the list order stable.
      timeCreated: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
      vnics: [vnic(`${n.displayName ?? `instance-${seq}`}-vnic`, n.privateIp ?? '127.0.0.1', true)],
    };
    for (const [name, ip] of Object.entries(n.secondaryVnics ?? {})) inst.vnics.push(vnic(name, ip, false));
    this.instances.set(inst.id, inst);
    return inst;
  }

  /** Changes an instance's lifecycle state (STOPPED, TERMINATED, ...). */
  setState(id: string, state: InstanceState): FleetInstance {
    const inst = this.instances.get(id);
    if (!inst) throw new Error(`no instance ${id}`);
    inst.lifecycleState = state;
    return inst;
  }

  /** Terminates an instance: it stays listed as TERMINATED, its VNICs detached. */
  terminate(id: string): FleetInstance {
    return this.setState(id, 'TERMINATED');
  }

  /** Answers one GET under /20160918/; undefined when the path is not a fleet route. */
  handle(path: string, query: URLSearchParams): FleetResponse | undefined {
    const rest = path.slice(FLEET_API_PREFIX.length);
    const api = rest.split('/')[0] as FleetApi;
    if (this.deniedApis.has(api)) return notAuthorized(`no policy grants ${api}`);
    if (rest === 'instances') return this.list(api, query, () => this.listInstances(query));
    if (rest === 'vnicAttachments') return this.list(api, query, () => this.listAttachments(query));
    if (rest === 'compartments') return this.list(api, query, () => this.listCompartments(query));
    if (rest.startsWith('vnics/')) return this.getVnic(decodeURIComponent(rest.slice('vnics/'.length)));
    return undefined;
  }

  /** Pagination and the compartment checks shared by the list calls. */
  private list(api: FleetApi, query: URLSearchParams, items: () => unknown[] | FleetResponse): FleetResponse {
    const compartmentId = query.get('compartmentId');
    if (!compartmentId) return error(400, 'MissingParameter', 'compartmentId is required');
    if (this.deniedCompartments.has(compartmentId)) return notAuthorized(`compartment ${compartmentId}`);
    const limitText = query.get('limit');
    const limit = limitText === null ? 100 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return error(400, 'InvalidParameter', `limit must be from 1 to 1000, got ${limitText}`);
    const page = query.get('page');
    const offset = page === null ? 0 : offsetOf(page);
    if (offset === undefined) return error(400, 'InvalidParameter', 'page is not a token from opc-next-page');
    const all = items();
    if (!Array.isArray(all)) return all;
    const size = Math.min(limit, this.pageSize);
    const headers: Record<string, string> = {};
    if (offset + size < all.length) headers['opc-next-page'] = pageToken(offset + size);
    const body = all.slice(offset, offset + size);
    this.afterPage?.(api, offset);
    return { status: 200, body, headers };
  }

  /** Instances of the compartment, oldest first, optionally of one lifecycle state. */
  private listInstances(query: URLSearchParams): unknown[] {
    const state = query.get('lifecycleState');
    return [...this.instances.values()]
      .filter((i) => i.compartmentId === query.get('compartmentId') && (state === null || i.lifecycleState === state))
      .map((i) => ({
        id: i.id,
        compartmentId: i.compartmentId,
        displayName: i.displayName,
        availabilityDomain: i.availabilityDomain,
        faultDomain: i.faultDomain,
        shape: i.shape,
        lifecycleState: i.lifecycleState,
        freeformTags: i.freeformTags,
        definedTags: i.definedTags,
        region: 'emu',
        timeCreated: i.timeCreated,
      }));
  }

  /** VNIC attachments of the compartment (optionally of one instance); a terminated or stopped-and-gone instance's are DETACHED. */
  private listAttachments(query: URLSearchParams): unknown[] {
    const instanceId = query.get('instanceId');
    return [...this.instances.values()]
      .filter((i) => i.compartmentId === query.get('compartmentId') && (instanceId === null || i.id === instanceId))
      .flatMap((i) =>
        i.vnics.map((v, nic) => ({
          id: v.attachmentId,
          instanceId: i.id,
          vnicId: i.lifecycleState === 'TERMINATED' ? undefined : v.id,
          compartmentId: i.compartmentId,
          availabilityDomain: i.availabilityDomain,
          displayName: v.displayName,
          nicIndex: nic,
          subnetId: 'ocid1.subnet.oc1.emu.fleet',
          lifecycleState: i.lifecycleState === 'TERMINATED' ? 'DETACHED' : 'ATTACHED',
          timeCreated: i.timeCreated,
        })),
      );
  }

  /** Child compartments of a compartment. */
  private listCompartments(query: URLSearchParams): unknown[] {
    const state = query.get('lifecycleState');
    return [...this.compartments.values()]
      .filter((c) => c.parentId === query.get('compartmentId') && (state === null || c.lifecycleState === state))
      .map((c) => ({
        id: c.id,
        compartmentId: c.parentId,
        name: c.name,
        description: c.name,
        lifecycleState: c.lifecycleState,
        timeCreated: '2026-01-01T00:00:00.000Z',
      }));
  }

  /** One VNIC. */
  private getVnic(vnicId: string): FleetResponse {
    for (const i of this.instances.values()) {
      const v = i.vnics.find((x) => x.id === vnicId);
      if (!v || i.lifecycleState === 'TERMINATED') continue;
      if (this.deniedCompartments.has(i.compartmentId)) return notAuthorized(`vnic ${vnicId}`);
      return {
        status: 200,
        body: {
          id: v.id,
          compartmentId: i.compartmentId,
          availabilityDomain: i.availabilityDomain,
          displayName: v.displayName,
          isPrimary: v.isPrimary,
          privateIp: v.privateIp,
          lifecycleState: 'AVAILABLE',
          subnetId: 'ocid1.subnet.oc1.emu.fleet',
          timeCreated: i.timeCreated,
        },
        headers: { etag: v.id },
      };
    }
    return notAuthorized(`vnic ${vnicId}`);
  }
}
