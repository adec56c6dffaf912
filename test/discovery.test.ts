/**
 * OCI compute discovery through the real SDK (oci-core, oci-identity) signing real requests to the
 * emulator's simulated fleet: pagination, tags, lifecycle states, several exporters per instance,
 * secondary VNICs, sub-compartments, churn, and failures (policy 404, 5xx mid-pagination, timeout)
 * with the last good list and the IAM statement. Then a fleet of BharatMart simulators scraped by the
 * built function over the Fn socket, with instances added and terminated between invocations.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseSettings, type DiscoverySettings } from '../src/config/settings';
import { FleetDiscovery } from '../src/discovery/discovery';
import type { DiscoveryClients } from '../src/discovery/oci';
import { startBharatMart, type BharatMart } from '../src/local/demo/bharatmart';
import { startDemo } from '../src/local/demo/stack';
import { makeConfigFile } from '../src/local/emulator/credentials';
import { startIngestionEmulator, type IngestionEmulator } from '../src/local/emulator/server';
import type { InvocationSummary } from '../src/handler/summary';
import type { LocalFunction } from '../src/local/fn-agent';
import { createAuth, createDiscoveryClients } from '../src/oci/clients';
import { transformAll } from './helpers/transform';
import { capturedText, lastInvocationLog, waitForLine } from './helpers/reliability';
import { closedPort, COMPARTMENT, startStack, type Stack } from './helpers/stack';

const FLEET = 'ocid1.compartment.oc1..aaaaaaaafleetcompartmentprom2oci';

let dir: string;
let emu: IngestionEmulator;
let clients: (d: DiscoverySettings) => DiscoveryClients;

/** Discovery settings as the function parses them, pointed at the emulator. */
function settingsOf(env: Record<string, string>): DiscoverySettings {
  // A discovery timeout far above the work (a loaded machine); the timeout test sets its own.
  const s = parseSettings({
    DRY_RUN: 'true',
    DISCOVERY_COMPARTMENT_OCID: FLEET,
    OCI_COMPUTE_ENDPOINT: emu.url,
    OCI_IDENTITY_ENDPOINT: emu.url,
    DISCOVERY_TIMEOUT_MS: '120000',
    ...env,
  });
  return s.discovery!;
}

/** A discovery over the emulator's fleet, with a controllable clock. */
function discoveryOf(env: Record<string, string>, clock = { now: 0 }): { fleet: FleetDiscovery; clock: { now: number } } {
  const d = settingsOf(env);
  return {
    fleet: new FleetDiscovery(
      d,
      () => clients(d),
      () => clock.now,
    ),
    clock,
  };
}

const noDeadline = () => AbortSignal.timeout(60_000);
const urlsOf = (r: { targets: { url: URL }[] }) => r.targets.map((t) => t.url.href).sort();

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-discovery-'));
  const cfg = await makeConfigFile(path.join(dir, 'cfg'));
  emu = await startIngestionEmulator({ configKeys: { [cfg.keyId]: cfg.publicKeyPem } });
  const auth = createAuth({ OCI_CONFIG_FILE: cfg.configPath });
  clients = (d) => createDiscoveryClients(auth, d);
});

after(async () => {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

/** Empties the fleet and the emulator's records. */
function resetFleet(pageSize = 100): void {
  emu.reset();
  emu.fleet.instances.clear();
  emu.fleet.compartments.clear();
  emu.fleet.deniedCompartments.clear();
  emu.fleet.deniedApis.clear();
  emu.fleet.pageSize = pageSize;
  emu.fleet.afterPage = undefined;
}

describe('discovery through the SDK against the emulated fleet', () => {
  test('230 instances over pages of 50: only RUNNING ones with the tag, each on its primary VNIC IP', async () => {
    resetFleet(50);
    const want: string[] = [];
    for (let i = 0; i < 230; i++) {
      const ip = `127.0.${Math.floor(i / 200)}.${(i % 200) + 1}`;
      const tagged = i % 5 !== 0; // every fifth instance lacks the tag
      const state = i % 7 === 0 ? 'STOPPED' : i % 11 === 0 ? 'TERMINATED' : 'RUNNING';
      emu.fleet.addInstance({ compartmentId: FLEET, privateIp: ip, freeformTags: tagged ? { prom2oci: 'scrape' } : { prom2oci: 'no' }, lifecycleState: state });
      if (tagged && state === 'RUNNING') want.push(`http://${ip}:9100/metrics`);
    }
    emu.fleet.addInstance({ compartmentId: 'ocid1.compartment.oc1..aaaaaaaaothercompartment', freeformTags: { prom2oci: 'scrape' } });
    const { fleet } = discoveryOf({ DISCOVERY_TAG: 'prom2oci=scrape' });
    const r = await fleet.targets(noDeadline());
    assert.equal(r.report.error, undefined);
    assert.deepEqual(urlsOf(r), want.sort());
    assert.equal(r.report.source, 'discovered');
    assert.equal(r.report.targets, want.length);
    const running = [...emu.fleet.instances.values()].filter((i) => i.compartmentId === FLEET && i.lifecycleState === 'RUNNING').length;
    const listCalls = emu.calls.filter((c) => c.path === '/20160918/instances');
    assert.equal(listCalls.length, Math.ceil(running / 50), 'every page of ListInstances, via opc-next-page');
    assert.ok(
      emu.calls.every((c) => c.status === 200 && c.authKind === 'config'),
      'every call signed and accepted',
    );
    const vnicCalls = emu.calls.filter((c) => c.path.startsWith('/20160918/vnics/')).length;
    assert.equal(vnicCalls, want.length, 'one GetVnic per matching instance');
    assert.equal(r.report.calls, emu.calls.length);
    // resourceId is the instance OCID; nothing else unless asked.
    const t = r.targets[0];
    assert.deepEqual(Object.keys(t.dimensions), ['resourceId']);
    assert.equal(emu.fleet.instances.get(t.resourceId)!.vnics[0].privateIp, t.url.hostname);
  });

  test('several exporters per instance by tag, a path tag, a defined-tag filter and chosen dimensions', async () => {
    resetFleet();
    const web = emu.fleet.addInstance({
      compartmentId: FLEET,
      displayName: 'web-1',
      privateIp: '127.0.0.2',
      shape: 'VM.Standard.A1.Flex',
      freeformTags: { prometheus_port: '9100, 3000, 8080/actuator/prometheus', team: 'shop' },
      definedTags: { Ops: { scrape: 'true' } },
    });
    const db = emu.fleet.addInstance({
      compartmentId: FLEET,
      displayName: 'db-1',
      privateIp: '127.0.0.3',
      freeformTags: { prometheus_path: '/stats', prometheus_port: '9187' },
      definedTags: { Ops: { scrape: 'true' } },
    });
    const bad = emu.fleet.addInstance({
      compartmentId: FLEET,
      displayName: 'bad',
      privateIp: '127.0.0.4',
      freeformTags: { prometheus_port: '9100,http' },
      definedTags: { Ops: { scrape: 'true' } },
    });
    emu.fleet.addInstance({ compartmentId: FLEET, displayName: 'untagged', privateIp: '127.0.0.5' });
    const { fleet } = discoveryOf({
      DISCOVERY_TAG: 'Ops.scrape=true',
      DISCOVERY_DIMENSIONS: 'resourceDisplayName,availabilityDomain,faultDomain,shape,tag:team',
    });
    const r = await fleet.targets(noDeadline());
    assert.deepEqual(urlsOf(r), [
      'http://127.0.0.2:3000/metrics',
      'http://127.0.0.2:8080/actuator/prometheus',
      'http://127.0.0.2:9100/metrics',
      'http://127.0.0.3:9187/stats',
    ]);
    const webTarget = r.targets.find((t) => t.url.port === '3000')!;
    assert.deepEqual(webTarget.dimensions, {
      resourceId: web.id,
      resourceDisplayName: 'web-1',
      availabilityDomain: web.availabilityDomain,
      faultDomain: web.faultDomain,
      shape: 'VM.Standard.A1.Flex',
      team: 'shop',
    });
    assert.equal(r.targets.find((t) => t.url.port === '9187')!.dimensions.team, undefined, 'an absent tag adds no dimension');
    assert.equal(r.targets.find((t) => t.url.port === '9187')!.resourceId, db.id);
    assert.deepEqual(r.report.problems, [
      { resourceId: bad.id, displayName: 'bad', problem: 'tag prometheus_port="9100,http": "http" is not a port (1-65535), optionally followed by a path' },
    ]);
    assert.equal(r.report.instances, 3);
  });

  test('a chosen secondary VNIC by display name; an instance without it is a named problem', async () => {
    resetFleet();
    const two = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.0.6', secondaryVnics: { monitoring: '127.0.0.7' } });
    const one = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.0.8' });
    const { fleet } = discoveryOf({ DISCOVERY_VNIC: 'monitoring' });
    const r = await fleet.targets(noDeadline());
    assert.deepEqual(urlsOf(r), ['http://127.0.0.7:9100/metrics']);
    assert.equal(r.targets[0].resourceId, two.id);
    assert.deepEqual(r.report.problems, [{ resourceId: one.id, displayName: one.displayName, problem: 'no VNIC named "monitoring" with a private IP' }]);
  });

  test('sub-compartments through Identity ListCompartments, level by level', async () => {
    resetFleet();
    const child = emu.fleet.addCompartment(FLEET, 'app');
    const grandchild = emu.fleet.addCompartment(child.id, 'app-eu');
    const deleted = emu.fleet.addCompartment(FLEET, 'old');
    deleted.lifecycleState = 'DELETED';
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.1.1' });
    emu.fleet.addInstance({ compartmentId: child.id, privateIp: '127.0.1.2' });
    emu.fleet.addInstance({ compartmentId: grandchild.id, privateIp: '127.0.1.3' });
    emu.fleet.addInstance({ compartmentId: deleted.id, privateIp: '127.0.1.4' });
    const only = await discoveryOf({}).fleet.targets(noDeadline());
    assert.deepEqual(urlsOf(only), ['http://127.0.1.1:9100/metrics'], 'without the flag: the compartment alone');
    assert.equal(emu.calls.filter((c) => c.path === '/20160918/compartments').length, 0);
    const all = await discoveryOf({ DISCOVERY_INCLUDE_SUBCOMPARTMENTS: 'true' }).fleet.targets(noDeadline());
    assert.deepEqual(urlsOf(all), ['http://127.0.1.1:9100/metrics', 'http://127.0.1.2:9100/metrics', 'http://127.0.1.3:9100/metrics']);
  });

  test('churn: the TTL reuses the list, then appeared and disappeared targets are named', async () => {
    resetFleet();
    const a = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.2.1', displayName: 'a' });
    const b = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.2.2', displayName: 'b' });
    const { fleet, clock } = discoveryOf({ DISCOVERY_TTL_SECONDS: '60' });
    const first = await fleet.targets(noDeadline());
    assert.equal(first.report.appeared.length, 2, 'first discovery: everything appeared');
    emu.fleet.terminate(a.id);
    const c = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.2.3', displayName: 'c' });
    clock.now = 30_000;
    const calls = emu.calls.length;
    const cached = await fleet.targets(noDeadline());
    assert.equal(cached.report.source, 'cached');
    assert.equal(emu.calls.length, calls, 'no API call inside the TTL');
    assert.deepEqual(urlsOf(cached), urlsOf(first));
    clock.now = 61_000;
    const next = await fleet.targets(noDeadline());
    assert.equal(next.report.source, 'discovered');
    assert.deepEqual(next.report.appeared, [{ url: 'http://127.0.2.3:9100/metrics', resourceId: c.id, displayName: 'c' }]);
    assert.deepEqual(next.report.disappeared, [{ url: 'http://127.0.2.1:9100/metrics', resourceId: a.id, displayName: 'a' }]);
    assert.deepEqual(urlsOf(next), ['http://127.0.2.2:9100/metrics', 'http://127.0.2.3:9100/metrics']);
    assert.ok(next.targets.every((t) => t.resourceId !== a.id) && next.targets.some((t) => t.resourceId === b.id));
    // VNICs already seen are not fetched again: only c's.
    assert.equal(emu.calls.slice(calls).filter((x) => x.path.startsWith('/20160918/vnics/')).length, 1);
  });

  test('a 5xx in the middle of pagination fails the discovery; the last good list is kept while fresh', async () => {
    resetFleet(2);
    for (let i = 1; i <= 5; i++) emu.fleet.addInstance({ compartmentId: FLEET, privateIp: `127.0.3.${i}` });
    const { fleet, clock } = discoveryOf({ DISCOVERY_TTL_SECONDS: '60' });
    // No good list yet: nothing discovered, the error says which call, what OCI answered, and that it was tried 4 times.
    emu.enqueueFault({ status: 503, match: /^\/20160918\/instances\?.*page=/ }, 4, 'discovery');
    const failed = await fleet.targets(noDeadline());
    assert.equal(failed.report.source, 'none');
    assert.deepEqual(failed.targets, []);
    assert.match(failed.report.error!, /^ListInstances failed \(503 ServiceUnavailable: Injected fault: 503 ServiceUnavailable, 4 attempts\)/);
    assert.equal(failed.report.iamStatement, undefined, 'a 5xx is not a policy problem');
    const pages = emu.calls.filter((c) => c.path === '/20160918/instances').map((c) => c.status);
    assert.deepEqual(pages, [200, 503, 503, 503, 503], 'the first page came, the second failed every attempt');
    const good = await fleet.targets(noDeadline());
    assert.equal(good.targets.length, 5);
    // After the TTL, a failing refresh keeps the last good list (still fresh: TTL + 10 min).
    clock.now += 61_000;
    emu.enqueueFault({ status: 500, match: /^\/20160918\/instances\?.*page=/ }, 4, 'discovery');
    const stale = await fleet.targets(noDeadline());
    assert.equal(stale.report.source, 'last-good');
    assert.deepEqual(urlsOf(stale), urlsOf(good));
    assert.match(stale.report.error!, /ListInstances failed \(500/);
    // Too old: no discovered targets any more.
    clock.now += 11 * 60_000;
    emu.enqueueFault({ status: 500, match: /^\/20160918\/instances\?/ }, 4, 'discovery');
    const gone = await fleet.targets(noDeadline());
    assert.equal(gone.report.source, 'none');
    assert.deepEqual(gone.targets, []);
  });

  test('a missing policy (404) names the statement to add, per call', async () => {
    resetFleet();
    emu.fleet.addInstance({ compartmentId: FLEET });
    emu.fleet.deniedCompartments.add(FLEET);
    const r = await discoveryOf({}).fleet.targets(noDeadline());
    assert.match(r.report.error!, /^ListInstances failed \(404 NotAuthorizedOrNotFound: /);
    assert.equal(r.report.iamStatement, `Allow dynamic-group <the function's dynamic group> to read instances in compartment id ${FLEET}`);
    emu.fleet.deniedCompartments.clear();
    emu.fleet.deniedApis.add('vnics');
    const v = await discoveryOf({}).fleet.targets(noDeadline());
    assert.equal(v.report.iamStatement, `Allow dynamic-group <the function's dynamic group> to read vnics in compartment id ${FLEET}`);
    emu.fleet.deniedApis.clear();
    emu.fleet.deniedApis.add('compartments');
    const c = await discoveryOf({ DISCOVERY_INCLUDE_SUBCOMPARTMENTS: 'true' }).fleet.targets(noDeadline());
    assert.equal(c.report.iamStatement, `Allow dynamic-group <the function's dynamic group> to inspect compartments in compartment id ${FLEET}`);
  });

  test('one 429 among 40 GetVnic calls (and a 502 on a page) is tried again: every instance is a target, the retries counted', async () => {
    resetFleet(10);
    for (let i = 1; i <= 40; i++) emu.fleet.addInstance({ compartmentId: FLEET, privateIp: `127.0.6.${i}` });
    emu.enqueueFault({ status: 429, match: /^\/20160918\/vnics\// }, 1, 'discovery');
    emu.enqueueFault({ status: 502, match: /^\/20160918\/instances\?.*page=/ }, 1, 'discovery');
    const r = await discoveryOf({}).fleet.targets(noDeadline());
    assert.equal(r.report.error, undefined);
    assert.equal(r.report.source, 'discovered');
    assert.equal(r.targets.length, 40);
    assert.equal(r.report.retries, 2);
    const vnics = emu.calls.filter((c) => c.path.startsWith('/20160918/vnics/'));
    assert.equal(vnics.length, 41, 'one GetVnic answered 429, then again');
    assert.equal(vnics.filter((c) => c.status === 429).length, 1);
    assert.equal(r.report.calls, emu.calls.length, 'every attempt is a call');
  });

  test('an instance listed on two pages (it became RUNNING between them) is one instance, one target per exporter', async () => {
    resetFleet(2);
    const late = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.7.1', lifecycleState: 'STOPPED' });
    for (let i = 2; i <= 5; i++) emu.fleet.addInstance({ compartmentId: FLEET, privateIp: `127.0.7.${i}` });
    // After the first page the oldest instance starts: the RUNNING list shifts by one, so the second page repeats an instance.
    emu.fleet.afterPage = (api, offset) => {
      if (api === 'instances' && offset === 0) emu.fleet.setState(late.id, 'RUNNING');
    };
    const r = await discoveryOf({}).fleet.targets(noDeadline());
    assert.equal(r.report.error, undefined);
    const served = emu.calls.filter((c) => c.path === '/20160918/instances').length;
    assert.equal(served, 3, 'three pages: 2 + 2 + 1, one instance on two of them');
    assert.deepEqual(
      urlsOf(r),
      [2, 3, 4, 5].map((i) => `http://127.0.7.${i}:9100/metrics`),
    );
    assert.equal(r.report.instances, 4);
    assert.equal(r.report.targets, 4);
  });

  test('link-local and unspecified addresses are refused and named per instance; loopback is scraped; a bad IP is one problem', async () => {
    resetFleet();
    const refused = ['169.254.169.254', '169.254.0.1', 'fe80::1', 'fe80::1%ens3', '0.0.0.0', '::', '::ffff:169.254.169.254'].map((ip) =>
      emu.fleet.addInstance({ compartmentId: FLEET, privateIp: ip, displayName: `refused ${ip}`, freeformTags: { prometheus_path: '/opc/v1/instance/' } }),
    );
    const notIp = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: 'not-an-ip', displayName: 'not an ip' });
    const zoned = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: 'fd00::5%eth0', displayName: 'zoned' });
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.8.1' });
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '::1' });
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '10.0.0.7' });
    const r = await discoveryOf({}).fleet.targets(noDeadline());
    assert.equal(r.report.error, undefined);
    assert.deepEqual(urlsOf(r), ['http://10.0.0.7:9100/metrics', 'http://127.0.8.1:9100/metrics', 'http://[::1]:9100/metrics']);
    assert.equal(r.report.problemCount, refused.length + 2);
    const problemOf = new Map(r.report.problems.map((p) => [p.resourceId, p.problem]));
    for (const inst of refused) {
      assert.match(problemOf.get(inst.id)!, /is link-local \(169\.254\.0\.0\/16, fe80::\/10\) or unspecified \(0\.0\.0\.0\/8, ::\): refused/, inst.displayName);
    }
    assert.equal(problemOf.get(notIp.id), 'private IP "not-an-ip" is not an IP address');
    assert.equal(problemOf.get(zoned.id), 'private IP "fd00::5%eth0" has a zone index: not a routable address');
    assert.ok(
      r.report.problems.every((p) => p.displayName !== ''),
      'each refused instance is named',
    );
  });

  test('tag namespaces and defined keys match case-insensitively, freeform keys and values exactly (as OCI compares them)', async () => {
    resetFleet();
    const defined = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.9.1', definedTags: { Operations: { Scrape: 'yes' } } });
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.9.2', definedTags: { Operations: { Scrape: 'YES' } } });
    const freeform = emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.9.3', freeformTags: { team: 'shop' } });
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.9.4', freeformTags: { Team: 'shop' } });
    const byDefined = await discoveryOf({ DISCOVERY_TAG: 'operations.SCRAPE=yes', DISCOVERY_DIMENSIONS: 'tag:OPERATIONS.scrape' }).fleet.targets(noDeadline());
    assert.deepEqual(
      byDefined.targets.map((t) => t.resourceId),
      [defined.id],
    );
    assert.equal(byDefined.targets[0].dimensions['OPERATIONS.scrape'], 'yes', 'a defined tag dimension is read the same way');
    const byFreeform = await discoveryOf({ DISCOVERY_TAG: 'team=shop' }).fleet.targets(noDeadline());
    assert.deepEqual(
      byFreeform.targets.map((t) => t.resourceId),
      [freeform.id],
    );
  });

  test('a tag filter matching none of the RUNNING instances is named (noTargets); an empty compartment is not', async () => {
    resetFleet();
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.10.1', freeformTags: { prom2oci: 'scrape' } });
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '127.0.10.2', freeformTags: { prom2oci: 'scrape' } });
    const typo = await discoveryOf({ DISCOVERY_TAG: 'prom2oci=scrap' }).fleet.targets(noDeadline());
    assert.equal(typo.report.error, undefined);
    assert.equal(typo.targets.length, 0);
    assert.equal(
      typo.report.noTargets,
      `DISCOVERY_TAG "prom2oci=scrap" matches none of the 2 RUNNING instances in compartment ${FLEET} ` +
        '(defined tag namespaces and keys compare case-insensitively, freeform tag keys and every value exactly)',
    );
    const fine = await discoveryOf({ DISCOVERY_TAG: 'prom2oci=scrape' }).fleet.targets(noDeadline());
    assert.equal(fine.report.noTargets, undefined);
    resetFleet();
    const empty = await discoveryOf({ DISCOVERY_TAG: 'prom2oci=scrape' }).fleet.targets(noDeadline());
    assert.equal(empty.report.noTargets, undefined, 'no RUNNING instance at all: an empty fleet, not a mistake');
    emu.fleet.addInstance({ compartmentId: FLEET, privateIp: '169.254.169.254' });
    const unusable = await discoveryOf({}).fleet.targets(noDeadline());
    assert.equal(unusable.report.noTargets, `none of the 1 matching instances in compartment ${FLEET} can be scraped (see discovery.problems)`);
  });

  test('each target carries its instance as __meta_oci_* labels: id, name, IP, AD, FD, shape, compartment, tags (names sanitised)', async () => {
    resetFleet();
    const inst = emu.fleet.addInstance({
      compartmentId: FLEET,
      displayName: 'web-1',
      privateIp: '127.0.11.1',
      availabilityDomain: 'Uocm:EU-FRANKFURT-1-AD-2',
      faultDomain: 'FAULT-DOMAIN-3',
      shape: 'VM.Standard.A1.Flex',
      freeformTags: { 'app-name': 'shop', prometheus_port: '9100,3000' },
      definedTags: { 'Oracle-Tags': { CreatedBy: 'ops@example.com' }, Ops: { cost_center: 42 } },
    });
    const r = await discoveryOf({}).fleet.targets(noDeadline());
    assert.equal(r.targets.length, 2);
    const want = {
      __meta_oci_instance_id: inst.id,
      __meta_oci_instance_name: 'web-1',
      __meta_oci_private_ip: '127.0.11.1',
      __meta_oci_availability_domain: 'Uocm:EU-FRANKFURT-1-AD-2',
      __meta_oci_fault_domain: 'FAULT-DOMAIN-3',
      __meta_oci_shape: 'VM.Standard.A1.Flex',
      __meta_oci_compartment_id: FLEET,
      __meta_oci_freeform_tag_app_name: 'shop',
      __meta_oci_freeform_tag_prometheus_port: '9100,3000',
      __meta_oci_defined_tag_Oracle_Tags_CreatedBy: 'ops@example.com',
      __meta_oci_defined_tag_Ops_cost_center: '42',
    };
    for (const t of r.targets) assert.deepEqual(t.metaLabels, want);
    assert.deepEqual(Object.keys(r.targets[0].dimensions), ['resourceId'], 'the labels are data for relabelling, not dimensions');
  });

  test('a missing policy names FUNCTION_DYNAMIC_GROUP when it is set', async () => {
    resetFleet();
    emu.fleet.addInstance({ compartmentId: FLEET });
    emu.fleet.deniedApis.add('vnicAttachments');
    const d = settingsOf({});
    const r = await new FleetDiscovery(d, () => clients(d), Date.now, 'prom2oci-function').targets(noDeadline());
    assert.equal(r.report.iamStatement, `Allow dynamic-group prom2oci-function to read vnic-attachments in compartment id ${FLEET}`);
  });

  test('a call that hangs ends at DISCOVERY_TIMEOUT_MS with a named cause', async () => {
    resetFleet();
    emu.fleet.addInstance({ compartmentId: FLEET });
    emu.enqueueFault({ hangMs: 300_000 }, 1, 'discovery');
    const started = Date.now();
    const r = await discoveryOf({ DISCOVERY_TIMEOUT_MS: '3000' }).fleet.targets(noDeadline());
    assert.match(r.report.error!, /^ListInstances did not finish: /);
    assert.ok(Date.now() - started < 120_000, 'bounded by the timeout, not the five-minute hang');
  });
});

describe('discovered dimensions in the transform', () => {
  test('resourceId joins the series; an exposition label of that name becomes exported_resourceId', () => {
    const out = transformAll(
      [{ kind: 'gauge', name: 'temp', help: '', series: [{ labels: { resourceId: 'mine', zone: 'a' }, value: 1 }] }],
      { instance: '10.0.0.5:9100', scrapeTimeMs: Date.now(), dimensions: { resourceId: 'ocid1.instance.oc1..x', shape: 'VM' } },
      { namespace: 'ns', compartmentId: COMPARTMENT, extraDimensions: { shape: 'fixed', env: 'prod' }, histogramBuckets: false },
    );
    assert.deepEqual(out.metrics[0].dimensions, {
      env: 'prod',
      exported_resourceId: 'mine',
      instance: '10.0.0.5:9100',
      resourceId: 'ocid1.instance.oc1..x',
      shape: 'VM',
      zone: 'a',
    });
  });
});

describe('a fleet through the built function (Fn socket)', () => {
  let stack: Stack;
  const shops: BharatMart[] = [];
  before(async () => {
    stack = await startStack();
    for (let i = 0; i < 3; i++) shops.push(await startBharatMart({ seed: i + 1 }));
  });
  // A test that fails before its own clean-up must not leave a policy denied for the next ones (the
  // old code's first failure made the next two fail with its 404 instead of their own defect).
  beforeEach(() => {
    stack.emulator.fleet.deniedApis.clear();
    stack.emulator.fleet.deniedCompartments.clear();
  });
  after(async () => {
    await Promise.all(shops.map((s) => s.stop()));
    await stack.close();
  });

  test('discovered targets are scraped and posted with resourceId; churn is reported, no up=0 for a terminated instance', async () => {
    const fleet = stack.emulator.fleet;
    const portOf = (s: BharatMart) => new URL(s.url).port;
    const ids = shops
      .slice(0, 2)
      .map((s, i) => fleet.addInstance({ compartmentId: FLEET, displayName: `shop-${i}`, freeformTags: { app: 'bharatmart', prometheus_port: portOf(s) } }).id);
    fleet.addInstance({ compartmentId: FLEET, displayName: 'other-app', freeformTags: { app: 'other', prometheus_port: portOf(shops[2]) } });
    const fn = await stack.startFn({
      DISCOVERY_COMPARTMENT_OCID: FLEET,
      DISCOVERY_TAG: 'app=bharatmart',
      DISCOVERY_TTL_SECONDS: '0',
      DISCOVERY_DIMENSIONS: 'resourceDisplayName',
      DISCOVERY_TIMEOUT_MS: '60000',
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
      METRICS_ENDPOINT: '',
    });
    const res = await fn.invoke();
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.equal(s.ok, true);
    assert.deepEqual(s.targets.map((t) => t.resourceId).sort(), [...ids].sort());
    assert.ok(
      s.targets.every((t) => t.up && t.posted > 50),
      JSON.stringify(s.targets),
    );
    assert.equal(s.discovery!.source, 'discovered');
    assert.equal(s.discovery!.appeared.length, 2);
    const posted = stack.emulator.accepted.filter((m) => m.name === 'process_cpu_seconds_total');
    assert.ok(posted.length > 0);
    assert.ok(
      posted.every((m) => ids.includes(m.dimensions.resourceId) && /^shop-\d$/.test(m.dimensions.resourceDisplayName)),
      'data series carry resourceId',
    );
    const ups = stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.deepEqual(ups.map((m) => m.dimensions.resourceId).sort(), [...ids].sort(), 'up per discovered instance, with its resourceId');

    // Scale: one instance terminated, the third shop joins the fleet.
    fleet.terminate(ids[0]);
    const joined = fleet.addInstance({ compartmentId: FLEET, displayName: 'shop-2', freeformTags: { app: 'bharatmart', prometheus_port: portOf(shops[2]) } });
    stack.emulator.reset();
    const res2 = await fn.invoke();
    const s2 = res2.json as InvocationSummary;
    assert.equal(res2.status, 200, res2.body);
    assert.deepEqual(
      s2.discovery!.appeared.map((t) => t.resourceId),
      [joined.id],
    );
    assert.deepEqual(
      s2.discovery!.disappeared.map((t) => t.resourceId),
      [ids[0]],
    );
    assert.deepEqual(s2.targets.map((t) => t.resourceId).sort(), [ids[1], joined.id].sort());
    const ups2 = stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.ok(
      ups2.every((m) => m.dimensions.resourceId !== ids[0] && m.datapoints[0].value === 1),
      'no up=0 for the terminated instance',
    );
    assert.equal(ups2.length, 2);

    // Discovery denied: this warm container keeps its last good list (fresh), and says why...
    stack.emulator.fleet.deniedApis.add('instances');
    const kept = await fn.invoke();
    assert.equal(kept.status, 200, kept.body);
    const s3 = kept.json as InvocationSummary;
    assert.equal(s3.discovery!.source, 'last-good');
    assert.deepEqual(s3.targets.map((t) => t.resourceId).sort(), [ids[1], joined.id].sort());
    assert.match(s3.discovery!.iamStatement!, /to read instances in compartment id /);
    // ...a new container has none, and with no static list the invocation fails naming the statement to add.
    const cold = await stack.startFn({ DISCOVERY_COMPARTMENT_OCID: FLEET, OCI_COMPUTE_ENDPOINT: stack.emulator.url, METRICS_ENDPOINT: '' });
    const denied = await cold.invoke();
    assert.equal(denied.status, 502);
    assert.match(
      denied.body,
      new RegExp(
        String.raw`no targets: ListInstances failed \(404 NotAuthorizedOrNotFound.*add the policy statement: Allow dynamic-group` +
          String.raw` <the function's dynamic group> to read instances in compartment id ocid1\.compartment\.oc1\.\.aaaaaaaafleet`,
      ),
    );
    // With FUNCTION_DYNAMIC_GROUP (Terraform sets it), the statement names the group.
    const named = await stack.startFn({
      DISCOVERY_COMPARTMENT_OCID: FLEET,
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
      METRICS_ENDPOINT: '',
      FUNCTION_DYNAMIC_GROUP: 'prom2oci-function',
    });
    assert.match((await named.invoke()).body, /add the policy statement: Allow dynamic-group prom2oci-function to read instances in compartment id /);
    stack.emulator.fleet.deniedApis.clear();
  });

  test('through the function: a 429 on one of 40 GetVnic calls is retried, refused addresses are problems[], the log lists 20 of 42 appeared', async () => {
    const fleet = stack.emulator.fleet;
    fleet.instances.clear();
    stack.emulator.reset();
    const closed = await closedPort();
    fleet.addInstance({ compartmentId: FLEET, displayName: 'shop', freeformTags: { app: 'retry', prometheus_port: new URL(shops[0].url).port } });
    for (let i = 1; i <= 41; i++)
      fleet.addInstance({ compartmentId: FLEET, privateIp: `127.0.12.${i}`, freeformTags: { app: 'retry', prometheus_port: `${closed}` } });
    const metadata = fleet.addInstance({
      compartmentId: FLEET,
      privateIp: '169.254.169.254',
      freeformTags: { app: 'retry', prometheus_path: '/opc/v1/instance/' },
    });
    const zoned = fleet.addInstance({ compartmentId: FLEET, privateIp: 'fe80::1%ens3', freeformTags: { app: 'retry' } });
    stack.emulator.enqueueFault({ status: 429, match: /^\/20160918\/vnics\// }, 1, 'discovery');
    const fn = await stack.startFn({
      DISCOVERY_COMPARTMENT_OCID: FLEET,
      DISCOVERY_TAG: 'app=retry',
      DISCOVERY_TIMEOUT_MS: '60000',
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
      METRICS_ENDPOINT: '',
      SCRAPE_TIMEOUT_MS: '30000',
    });
    const res = await fn.invoke();
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.equal(s.discovery!.error, undefined);
    assert.equal(s.discovery!.retries, 1);
    assert.equal(s.targets.length, 42);
    assert.equal(s.targets.filter((t) => t.up).length, 1);
    assert.deepEqual(s.discovery!.problems.map((p) => p.resourceId).sort(), [metadata.id, zoned.id].sort());
    assert.ok(s.discovery!.problems.every((p) => /link-local/.test(p.problem)));
    assert.ok(!stack.emulator.calls.some((c) => c.path.includes('169.254')), 'nothing asked of the metadata address');
    // The response lists every appeared target; the summary log line the first 20 and the count.
    assert.equal(s.discovery!.appeared.length, 42);
    const log = (await lastInvocationLog(fn)) as unknown as { discovery: { appeared: unknown[]; appearedCount: number; disappearedCount: number } };
    assert.equal(log.discovery.appeared.length, 20);
    assert.equal(log.discovery.appearedCount, 42);
    assert.equal(log.discovery.disappearedCount, 0);
  });

  test('through the function: a tag filter matching nothing fails the invocation, naming it; beside a static endpoint it is reported', async () => {
    const fleet = stack.emulator.fleet;
    fleet.instances.clear();
    stack.emulator.reset();
    fleet.addInstance({ compartmentId: FLEET, freeformTags: { app: 'bharatmart' } });
    const env = { DISCOVERY_COMPARTMENT_OCID: FLEET, DISCOVERY_TAG: 'app=bharatmrt', OCI_COMPUTE_ENDPOINT: stack.emulator.url, DISCOVERY_TIMEOUT_MS: '60000' };
    const alone = await (await stack.startFn({ ...env, METRICS_ENDPOINT: '' })).invoke();
    assert.equal(alone.status, 502, alone.body);
    assert.match(alone.body, /no targets: DISCOVERY_TAG \\?"app=bharatmrt\\?" matches none of the 1 RUNNING instances in compartment ocid1\.compartment/);
    const besideFn = await stack.startFn({ ...env, METRICS_ENDPOINT: shops[0].url });
    const beside = await besideFn.invoke();
    assert.equal(beside.status, 200, beside.body);
    const s = beside.json as InvocationSummary;
    assert.match(s.discovery!.noTargets!, /^DISCOVERY_TAG "app=bharatmrt" matches none of the 1 RUNNING instances/);
    assert.equal(s.targets[0].up, true);
    // ...and a warn line says it, for a log-based alarm.
    const warn = JSON.parse(await waitForLine(besideFn, (l) => l.includes('"msg":"discovery: DISCOVERY_TAG'))) as { level: string };
    assert.equal(warn.level, 'warn');
  });

  test('through the function: OCI echoing the Authorization header (discovery, ingestion) puts no token in the response or the log', async () => {
    const fleet = stack.emulator.fleet;
    fleet.instances.clear();
    stack.emulator.reset();
    fleet.addInstance({ compartmentId: FLEET });
    // Every attempt of ListInstances answers 500 quoting the request's Authorization header; so does one PostMetricData call (400: not retried).
    stack.emulator.enqueueFault({ status: 500, echoAuthorization: true, match: /^\/20160918\/instances\?/ }, 4, 'discovery');
    stack.emulator.enqueueFault({ status: 400, echoAuthorization: true }, 1, 'metrics');
    const fn = await stack.startFn({
      DISCOVERY_COMPARTMENT_OCID: FLEET,
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
      DISCOVERY_TIMEOUT_MS: '60000',
      METRICS_ENDPOINT: shops[0].url,
    });
    const res = await fn.invoke();
    const s = res.json as InvocationSummary;
    assert.match(
      s.discovery!.error!,
      /^ListInstances failed \(500 InternalServerError: Injected fault: 500 InternalServerError \(request had Authorization: \[redacted\]/,
    );
    assert.ok(
      s.errors.some((e) => /request had Authorization: \[redacted\]/.test(e.message)),
      JSON.stringify(s.errors),
    );
    await lastInvocationLog(fn);
    const token = (await readFile(stack.rpEnv.OCI_RESOURCE_PRINCIPAL_RPST, 'utf8')).trim();
    const [header, payload, signature] = token.split('.');
    const all = capturedText(fn, [res]);
    for (const [what, part] of Object.entries({ header, payload, signature })) assert.ok(!all.includes(part), `the token's ${what} is not in any output`);
    assert.ok(!all.includes('ST$'), 'no resource-principal keyId');
    assert.ok(!/keyId="[^[]/.test(all), 'no keyId value');
  });

  test('through the function: a target answering JSON (as the metadata service does) is refused naming the line, never quoting it', async () => {
    const secretish = 'ocid1.compartment.oc1..metadatacompartmentsecret';
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`{"compartmentId" : "${secretish}", "hostname" : "web-1"}\nmetric 1\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/opc/v1/instance/`;
      const fn = await stack.startFn({ METRICS_ENDPOINT: `${url},${shops[0].url}` });
      const res = await fn.invoke();
      assert.equal(res.status, 200, res.body);
      const s = res.json as InvocationSummary;
      const bad = s.targets.find((t) => t.url === url)!;
      assert.equal(bad.up, false);
      assert.equal(
        bad.error,
        'invalid exposition: line 1: not the Prometheus text format (no valid sample, HELP or TYPE line before it; the content is not quoted)',
      );
      await lastInvocationLog(fn);
      assert.ok(!capturedText(fn, [res]).includes('metadatacompartment'), 'the body reaches no output');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('a hung discovery under a short function timeout leaves the static targets their scrape time', async () => {
    stack.emulator.reset();
    stack.emulator.fleet.addInstance({ compartmentId: FLEET });
    stack.emulator.enqueueFault({ hangMs: 300_000 }, 1, 'discovery');
    // A 30 s invocation and a discovery allowed 60 s: before, the hang took the whole scrape window
    // and the static target was cut after 1 ms; now discovery stops where SCRAPE_TIMEOUT_MS remains.
    const fn = await stack.startFn({
      DISCOVERY_COMPARTMENT_OCID: FLEET,
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
      DISCOVERY_TIMEOUT_MS: '60000',
      METRICS_ENDPOINT: shops[0].url,
      FUNCTION_TIMEOUT_SECONDS: '30',
    });
    const res = await fn.invoke({ deadline: new Date(Date.now() + 30_000) });
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.match(s.discovery!.error!, /did not finish/);
    assert.deepEqual(
      s.targets.map((t) => [t.url, t.up, t.error]),
      [[shops[0].url, true, undefined]],
    );
    assert.ok(s.posted > 50);
    await fn.stop();
  });

  test('two discovery-only functions sharing a bucket keep their own state; an address reused by another instance is new (issue 20 item 9)', async () => {
    const fleet = stack.emulator.fleet;
    fleet.instances.clear();
    stack.emulator.reset();
    const bucket = 'fleet-state';
    stack.emulator.objectStorage.createBucket(bucket);
    stack.emulator.objectStorage.clearObjects();
    // One instance in each fleet on the same address (two VCNs reuse 10.0.0.x; here both are on loopback).
    const port = new URL(shops[0].url).port;
    const inA = fleet.addInstance({ compartmentId: FLEET, displayName: 'a', freeformTags: { fleet: 'a', prometheus_port: port } });
    fleet.addInstance({ compartmentId: FLEET, displayName: 'b', freeformTags: { fleet: 'b', prometheus_port: port } });
    // Same namespace, compartment and bucket; only the tag filter differs.
    const envOf = (tag: string) => ({
      DISCOVERY_COMPARTMENT_OCID: FLEET,
      DISCOVERY_TAG: tag,
      DISCOVERY_TTL_SECONDS: '0',
      DISCOVERY_TIMEOUT_MS: '60000',
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
      METRICS_ENDPOINT: '',
      STATE_BUCKET: bucket,
      // One state object per function in the bucket: the pacing board's objects are tested in test/board-function.test.ts.
      PACING_BOARD: 'false',
      OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
      DERIVED_SERIES: 'rate',
    });
    const invoked = async (fn: LocalFunction) => {
      const res = await fn.invoke();
      assert.equal(res.status, 200, res.body);
      return res.json as InvocationSummary;
    };
    const [fnA, fnB] = [await stack.startFn(envOf('fleet=a')), await stack.startFn(envOf('fleet=b'))];
    const a1 = await invoked(fnA);
    assert.equal(a1.state.error, undefined);
    assert.ok(a1.notDerived.first_scrape! > 0, "A's first scrape derives nothing");
    // B's first scrape: A's scrape of the same address is not B's previous scrape.
    const b1 = await invoked(fnB);
    assert.equal(b1.derived, 0, `B derived rates from A's scrape of the same address: ${JSON.stringify(b1.notDerived)}`);
    assert.ok(b1.notDerived.first_scrape! > 0);
    assert.equal(stack.emulator.objectStorage.buckets.get(bucket)!.size, 2, 'one state object per function');
    // In A's fleet the address now belongs to another instance: a new target, not the old one's next scrape.
    fleet.terminate(inA.id);
    fleet.addInstance({ compartmentId: FLEET, displayName: 'a2', freeformTags: { fleet: 'a', prometheus_port: port } });
    const a2 = await invoked(fnA);
    assert.equal(a2.targets.length, 1);
    assert.equal(a2.derived, 0, `the new instance derived rates from the terminated one's scrape: ${JSON.stringify(a2.notDerived)}`);
    assert.ok(a2.notDerived.first_scrape! > 0);
    // Control: the same instance's next scrape does derive.
    const a3 = await invoked(fnA);
    assert.ok(a3.derived > 0, JSON.stringify(a3.notDerived));
    await Promise.all([fnA.stop(), fnB.stop()]);
  });

  test('discovery failing falls back to the static METRICS_ENDPOINT list, reported', async () => {
    stack.emulator.reset();
    stack.emulator.fleet.deniedCompartments.add(FLEET);
    const fn = await stack.startFn({ DISCOVERY_COMPARTMENT_OCID: FLEET, OCI_COMPUTE_ENDPOINT: stack.emulator.url, METRICS_ENDPOINT: shops[0].url });
    const res = await fn.invoke();
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.deepEqual(
      s.targets.map((t) => t.url),
      [shops[0].url],
    );
    assert.equal(s.targets[0].up, true);
    assert.equal(s.discovery!.source, 'none');
    assert.match(s.discovery!.iamStatement!, /to read instances in compartment id/);
    stack.emulator.fleet.deniedCompartments.clear();
  });
});

describe('discovered instances in a SCRAPE_CONFIG job (__oci_discovery__), through the built function', () => {
  const JOB_FLEET = 'ocid1.compartment.oc1..aaaaaaaajobfleetcompartmentprom2oci';
  let stack: Stack;
  const shops: BharatMart[] = [];
  // A target that must never be asked: its instance is dropped by relabel_configs.
  const asked: string[] = [];
  const dropped = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.end('# TYPE never counter\nnever 1\n');
  });
  before(async () => {
    stack = await startStack();
    for (let i = 0; i < 2; i++) shops.push(await startBharatMart({ seed: 10 + i }));
    await new Promise<void>((resolve) => dropped.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await Promise.all(shops.map((s) => s.stop()));
    await new Promise<void>((resolve) => dropped.close(() => resolve()));
    await stack.close();
  });

  test('job label; __meta_oci_* in relabel_configs (keep by tag, port from tag, name, FD, defined tag); dropped ones never requested', async () => {
    const fleet = stack.emulator.fleet;
    const portOf = (url: string) => new URL(url).port;
    const droppedPort = String((dropped.address() as AddressInfo).port);
    const web = shops.map((s, i) =>
      fleet.addInstance({
        compartmentId: JOB_FLEET,
        displayName: `web-${i + 1}`,
        faultDomain: `FAULT-DOMAIN-${i + 1}`,
        // No prometheus_port tag: discovery gives host:9100 (DISCOVERY_PORT); the port comes from metrics_port by relabelling.
        freeformTags: { scrape: 'yes', metrics_port: portOf(s.url) },
        definedTags: { Operations: { team: 'checkout' } },
      }),
    );
    // Both port tags name the counting server: were it not dropped, it would be asked.
    const off = fleet.addInstance({
      compartmentId: JOB_FLEET,
      displayName: 'batch-1',
      freeformTags: { scrape: 'no', metrics_port: droppedPort, prometheus_port: droppedPort },
    });
    const config = `scrape_configs:
  - job_name: shop
    static_configs:
      - labels: { __oci_discovery__: 'true', __oci_namespace__: fleetjob }
    relabel_configs:
      - { source_labels: [__meta_oci_freeform_tag_scrape], regex: 'yes', action: keep }
      - source_labels: [__meta_oci_private_ip, __meta_oci_freeform_tag_metrics_port]
        regex: '(.+);(\\d+)'
        replacement: '\${1}:\${2}'
        target_label: __address__
      - { source_labels: [__meta_oci_instance_name], target_label: instance }
      - { source_labels: [__meta_oci_fault_domain], target_label: fault_domain }
      - { source_labels: [__meta_oci_defined_tag_Operations_team], target_label: team }
`;
    const fn = await stack.startFn({
      SCRAPE_CONFIG: config,
      DISCOVERY_COMPARTMENT_OCID: JOB_FLEET,
      DISCOVERY_TTL_SECONDS: '0',
      DISCOVERY_TIMEOUT_MS: '60000',
      OCI_COMPUTE_ENDPOINT: stack.emulator.url,
    });
    const res = await fn.invoke();
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.equal(s.ok, true, JSON.stringify(s.targets));
    assert.equal(s.discovery!.instances, 3, 'all three instances were discovered');
    assert.deepEqual(s.scrapeConfig!.jobs, [{ job: 'shop', targets: 2, dropped: 1 }]);
    assert.deepEqual(
      s.targets.map((t) => [t.instance, t.url, t.resourceId, t.up]).sort(),
      shops.map((shop, i) => [`web-${i + 1}`, shop.url, web[i].id, true]),
    );
    assert.deepEqual(asked, [], `the dropped instance ${off.id} was never requested`);
    const posted = stack.emulator.accepted.filter((m) => m.namespace === 'fleetjob');
    assert.ok(posted.length > 50, `posted ${posted.length}`);
    for (const m of posted) {
      const i = ['web-1', 'web-2'].indexOf(m.dimensions.instance);
      assert.ok(i >= 0, `${m.name}: instance ${m.dimensions.instance}`);
      assert.equal(m.dimensions.job, 'shop', m.name);
      assert.equal(m.dimensions.fault_domain, `FAULT-DOMAIN-${i + 1}`, m.name);
      assert.equal(m.dimensions.team, 'checkout', m.name);
      assert.ok(!Object.keys(m.dimensions).some((k) => k.startsWith('__') || k.startsWith('meta_oci')), JSON.stringify(m.dimensions));
    }
    const ups = posted.filter((m) => m.name === 'up').map((m) => `${m.dimensions.instance}=${m.datapoints[0].value}`);
    assert.deepEqual(ups.sort(), ['web-1=1', 'web-2=1'], 'up per kept instance, none for the dropped one');
    await fn.stop();
  });
});

describe('npm start -- --fleet: the demo fleet', () => {
  test('three tagged simulators are discovered; instances added and terminated over the admin routes show as churn', { timeout: 120_000 }, async () => {
    const demo = await startDemo({ entry: path.resolve(__dirname, '../dist/func.js'), intervalMs: 1000, fleet: 3, traffic: false });
    try {
      /** Waits for an invocation after `seq` whose summary satisfies `ok`. */
      const invocationAfter = async (seq: number, ok: (s: InvocationSummary) => boolean): Promise<InvocationSummary> => {
        const until = Date.now() + 60_000;
        for (;;) {
          const r = demo.history.find((h) => h.seq > seq && h.summary && ok(h.summary as InvocationSummary));
          if (r) return r.summary as InvocationSummary;
          if (Date.now() > until) throw new Error(`no matching invocation after #${seq}: ${JSON.stringify(demo.history.at(-1))}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      };
      const first = await invocationAfter(0, (s) => s.targets.length === 3);
      assert.ok(
        first.targets.every((t) => t.up && t.resourceId?.startsWith('ocid1.instance.')),
        JSON.stringify(first.targets),
      );
      const listed = (await (await fetch(`${demo.emulator.url}/demo/fleet`)).json()) as { id: string; lifecycleState: string }[];
      assert.deepEqual(listed.map((m) => m.id).sort(), first.targets.map((t) => t.resourceId).sort());

      const added = (await (await fetch(`${demo.emulator.url}/demo/fleet/add`, { method: 'POST' })).json()) as { id: string };
      const seqAfterAdd = demo.history.at(-1)?.seq ?? 0;
      const grown = await invocationAfter(seqAfterAdd, (s) => s.targets.length === 4);
      assert.ok(grown.targets.some((t) => t.resourceId === added.id && t.up));

      const gone = await fetch(`${demo.emulator.url}/demo/fleet/terminate?id=${encodeURIComponent(listed[0].id)}`, { method: 'POST' });
      assert.equal(gone.status, 200);
      const seqAfterTerminate = demo.history.at(-1)?.seq ?? 0;
      const shrunk = await invocationAfter(seqAfterTerminate, (s) => s.targets.length === 3);
      assert.ok(
        shrunk.targets.every((t) => t.resourceId !== listed[0].id && t.up),
        'the terminated instance is not scraped, so no up=0 for it',
      );
      const churn = demo.history
        .filter((h) => h.seq > seqAfterTerminate)
        .map((h) => h.summary?.discovery?.disappeared ?? [])
        .flat();
      assert.deepEqual([...new Set(churn.map((t) => t.resourceId))], [listed[0].id], 'its disappearance is reported');
      const bad = await fetch(`${demo.emulator.url}/demo/fleet/terminate?id=nope`, { method: 'POST' });
      assert.equal(bad.status, 404);
    } finally {
      await demo.stop();
    }
  });
});
