/**
 * terraform/ planned, applied and destroyed by the real `terraform` binary, offline: the oracle/oci
 * provider cannot be downloaded here, so every oci_* block runs as a built-in `terraform_data`
 * stand-in whose computed attributes are unknown until apply (test/helpers/tfstandin.ts). What
 * Terraform itself evaluates is then real: count/for_each, variable validations, preconditions,
 * locals, dependencies, destroy order and local-exec commands (an `oci` stand-in records them).
 * Also the static rule behind it: no count/for_each depends on a value unknown at plan time.
 * Tests that need the binary skip when it is absent; here it is present, so they run.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPlanTimeCounts, formatFinding, type HclBody, parseTfFile, sortFindings, type TfFile } from './helpers/tflint';
import { initAndPlan, output, standInWorkspace, type StandInWorkspace, terraform, TERRAFORM, type TerraformRun, writeStandIn } from './helpers/tfstandin';

const ROOT = join(__dirname, '..');
const TF_DIR = join(ROOT, 'terraform');
const FIXTURES = join(__dirname, 'fixtures', 'terraform');
const HAVE_TERRAFORM = existsSync(TERRAFORM);

/** The module's variables that a caller may set from a resource of the same apply: OCIDs, the image, the targets. */
function mayBeUnknown(name: string): boolean {
  return /_(ocid|id)$/.test(name) || ['function_image', 'metrics_endpoint'].includes(name);
}

/** The variables every plan of the module as a root needs (no defaults). */
const REQUIRED: Record<string, string> = {
  tenancy_ocid: 'ocid1.tenancy.oc1..aaaaexample',
  region: 'eu-frankfurt-1',
  compartment_ocid: 'ocid1.compartment.oc1..aaaaexample',
  function_image: 'fra.ocir.io/axexample/prom2oci/prom2oci:0.1.0',
  metrics_endpoint: 'http://10.80.3.4:9100/metrics',
};

/** `-var` arguments (strings as they are, anything else as HCL/JSON). */
function vars(values: Record<string, string | number | boolean | string[]>): string[] {
  return Object.entries({ ...REQUIRED, ...values }).map(([k, v]) => `-var=${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/** Skips the test without the binary (the structural tests still run). */
function needsTerraform(t: TestContext): boolean {
  if (!HAVE_TERRAFORM) t.skip(`${TERRAFORM} not found: only the structural checks run`);
  return HAVE_TERRAFORM;
}

/** Asserts a run succeeded, showing its output when not. */
function assertOk(r: TerraformRun): void {
  assert.equal(r.status, 0, output(r).slice(-4000));
}

/** Asserts a run failed with a message matching `re`. */
function assertFails(r: TerraformRun, re: RegExp): void {
  assert.notEqual(r.status, 0, 'expected terraform to refuse this configuration');
  assert.match(output(r), re);
}

let files: TfFile[];
/** The stand-in module, used as a root by the plans below (initialised once). */
let ws: StandInWorkspace;

before(async () => {
  files = await Promise.all(
    readdirSync(TF_DIR)
      .filter((f) => f.endsWith('.tf'))
      .map((f) => parseTfFile(`terraform/${f}`, readFileSync(join(TF_DIR, f), 'utf8'))),
  );
  if (HAVE_TERRAFORM) ws = await standInWorkspace(TF_DIR);
});
after(() => ws?.dispose());

/** Plans the stand-in module as a root with these variables. */
const planModule = (values: Record<string, string | number | boolean | string[]> = {}) => initAndPlan(ws.module, vars(values));

/** Evaluates an expression of the module (a local) with `terraform console`; its value. */
function evaluate(expr: string, values: Record<string, string | number | boolean | string[]>): unknown {
  const r = terraform(ws.module, ['console', ...vars(values)], {}, `jsonencode(${expr})\n`);
  assertOk(r);
  return JSON.parse(JSON.parse(r.stdout.trim()) as string);
}

describe('nothing the module creates depends on a value unknown at plan time', () => {
  test('static: every count and for_each follows only bools, modes, names and numbers (through any locals)', () => {
    const variables = files.flatMap((f) => Object.keys((f.json.variable as HclBody | undefined) ?? {}));
    const unknown = variables.filter(mayBeUnknown).sort();
    assert.ok(
      unknown.includes('subnet_id') && unknown.includes('discovery_compartment_ocid') && unknown.includes('scrape_bearer_token_secret_ocid'),
      unknown.join(),
    );
    assert.deepEqual(checkPlanTimeCounts(files, mayBeUnknown).map(formatFinding), []);
  });

  test('negative: the former count on subnet_id == "", and a for_each over a data source attribute', async () => {
    const f = await parseTfFile('fixtures/terraform/unknown_count.tf', readFileSync(join(FIXTURES, 'unknown_count.tf'), 'utf8'));
    assert.deepEqual(sortFindings(checkPlanTimeCounts([f], mayBeUnknown)).map(formatFinding), [
      'fixtures/terraform/unknown_count.tf:14: [plan-time] oci_core_vcn.this: count depends on var.subnet_id, which a caller may set from a resource of ' +
        'the same apply (unknown at plan time): decide it with a bool',
      'fixtures/terraform/unknown_count.tf:24: [plan-time] oci_core_service_gateway.this: for_each depends on data.oci_core_services.all, ' +
        'which is unknown until apply',
    ]);
  });

  test('examples/instance-pool plans (its subnet_id is a subnet made in the same apply)', async (t) => {
    if (!needsTerraform(t)) return;
    const example = join(ws.root, 'example');
    await writeStandIn(join(TF_DIR, 'examples', 'instance-pool'), example, { '../..': '../module' });
    const r = initAndPlan(example, [
      `-var=tenancy_ocid=${REQUIRED.tenancy_ocid}`,
      `-var=region=${REQUIRED.region}`,
      `-var=compartment_ocid=${REQUIRED.compartment_ocid}`,
      `-var=function_image=${REQUIRED.function_image}`,
      '-var=vcn_id=ocid1.vcn.oc1..aaaaexample',
      '-var=instances_subnet_id=ocid1.subnet.oc1..aaaaexample',
      '-var=function_subnet_cidr=10.0.9.0/28',
      '-var=service_route_table_id=ocid1.routetable.oc1..aaaaexample',
      '-var=instances_subnet_cidr=10.0.1.0/24',
      '-var=availability_domain=Uocm:EU-FRANKFURT-1-AD-1',
      '-var=image_id=ocid1.image.oc1..aaaaexample',
    ]);
    assertOk(r);
    assert.match(r.stdout, /module\.prom2oci\.terraform_data\.oci_functions_function__this\[0\] will be created/);
    assert.doesNotMatch(r.stdout, /oci_core_vcn__this/, 'create_network = false: no VCN');
  });

  test('negative: the example against the former count (subnet_id == "") fails with "Invalid count argument"', async (t) => {
    if (!needsTerraform(t)) return;
    const network = readFileSync(join(TF_DIR, 'network.tf'), 'utf8');
    const former = network.replace('create_network  = var.create_network', 'create_network  = var.subnet_id == ""');
    assert.notEqual(former, network, 'the fixture replaced the count source');
    const old = await standInWorkspace(TF_DIR, { 'network.tf': former });
    try {
      writeFileSync(
        join(old.root, 'main.tf'),
        'resource "terraform_data" "subnet" {}\n' +
          `module "prom2oci" {\n  source = "./module"\n${Object.entries(REQUIRED)
            .map(([k, v]) => `  ${k} = "${v}"\n`)
            .join('')}  create_network = false\n  subnet_id = terraform_data.subnet.id\n}\n`,
      );
      assertFails(initAndPlan(old.root), /Invalid count argument/);
    } finally {
      old.dispose();
    }
  });

  test('every OCID, the image and the targets unknown at plan time: both schedule modes plan', (t) => {
    if (!needsTerraform(t)) return;
    const unknownValues: Record<string, string> = {
      tenancy_ocid: 'ocid1.tenancy.oc1..${local.u}',
      compartment_ocid: 'ocid1.compartment.oc1..${local.u}',
      resources_compartment_ocid: 'ocid1.compartment.oc1..${local.u}',
      discovery_compartment_ocid: 'ocid1.compartment.oc1..${local.u}',
      subnet_id: 'ocid1.subnet.oc1..${local.u}',
      scrape_bearer_token_secret_ocid: 'ocid1.vaultsecret.oc1..${local.u}',
      function_image: 'fra.ocir.io/axexample/prom2oci/prom2oci:${local.u}',
      metrics_endpoint: 'http://${local.u}:9100/metrics',
    };
    const variables = files.flatMap((f) => Object.keys((f.json.variable as HclBody | undefined) ?? {}));
    assert.deepEqual(Object.keys(unknownValues).sort(), variables.filter(mayBeUnknown).sort(), 'every may-be-unknown variable is made unknown here');
    const dir = join(ws.root, 'unknown');
    mkdirSync(dir, { recursive: true });
    for (const mode of ['alarm', 'resource_scheduler']) {
      writeFileSync(
        join(dir, 'main.tf'),
        [
          '# Values a caller creates in the same apply: unknown until then.',
          'resource "terraform_data" "made_in_this_apply" {}',
          'locals {',
          '  u = terraform_data.made_in_this_apply.id',
          '}',
          'module "prom2oci" {',
          '  source = "../module"',
          '  region = "eu-frankfurt-1"',
          ...Object.entries(unknownValues).map(([k, v]) => `  ${k} = "${v}"`),
          '  create_network = false',
          '  enable_discovery = true',
          '  enable_scrape_bearer_token_secret = true',
          '  state_bucket = "prom2oci-state"',
          '  force_destroy_state_bucket = true',
          '  alarm_email = "oncall@example.com"',
          '  slo_p99_latency_seconds = 0.5',
          '  slo_error_rate_per_second = 0.1',
          `  schedule_mode = "${mode}"`,
          '}',
          '',
        ].join('\n'),
      );
      const r = initAndPlan(dir);
      assertOk(r);
      assert.match(r.stdout, /oci_identity_policy__function_discovery\[0\] will be created/);
      assert.match(r.stdout, /oci_identity_policy__function_secret\[0\] will be created/);
      assert.match(r.stdout, /oci_resource_scheduler_schedule__invoke\[0\] will be created/);
    }
  });
});

describe('network: egress derived from the targets, and every IP target inside it', () => {
  test('a /32 per IP target on its port; a host name: the VCN, or 0.0.0.0/0 behind NAT', (t) => {
    if (!needsTerraform(t)) return;
    const endpoints = 'http://203.0.113.7:9100/metrics,https://u:p@10.80.3.4/m,http://bharat.example:3000/x';
    assert.deepEqual(evaluate('local.static_egress', { metrics_endpoint: endpoints, enable_nat_gateway: true }), [
      { cidr: '203.0.113.7/32', port: 9100 },
      { cidr: '10.80.3.4/32', port: 443 },
      { cidr: '0.0.0.0/0', port: 3000 },
    ]);
    assert.deepEqual(evaluate('local.static_egress', { metrics_endpoint: 'http://bharat.example:3000/x' }), [{ cidr: '10.80.0.0/16', port: 3000 }]);
    assert.deepEqual(
      evaluate('local.static_egress', { metrics_endpoint: endpoints, enable_nat_gateway: true, scrape_target_cidrs: ['203.0.113.0/24'] }),
      [9100, 443, 3000].map((port) => ({ cidr: '203.0.113.0/24', port })),
      'given CIDRs: on every scrape port',
    );
  });

  test('the reachability locals, as terraform evaluates them', (t) => {
    if (!needsTerraform(t)) return;
    const endpoints =
      'http://10.0.0.5:3000/metrics,https://u:p@203.0.113.7:9100/m,http://bharat.example/x,http://10.80.3.4:9100/metrics,http://172.31.0.1/m,http://127.0.0.1:9100/m';
    assert.deepEqual(evaluate('local.private_targets_outside_vcn', { metrics_endpoint: endpoints }), ['10.0.0.5', '172.31.0.1']);
    assert.deepEqual(evaluate('local.public_targets', { metrics_endpoint: endpoints }), ['203.0.113.7']);
    assert.deepEqual(evaluate('local.private_targets_outside_vcn', { metrics_endpoint: 'http://10.0.0.5:3000/metrics', vcn_cidr: '10.0.0.0/16' }), []);
  });

  test('a public target behind NAT plans; without NAT it is refused with the variable to set', (t) => {
    if (!needsTerraform(t)) return;
    assertOk(planModule({ metrics_endpoint: 'http://203.0.113.7:9100/metrics', enable_nat_gateway: true }));
    assertFails(planModule({ metrics_endpoint: 'http://203.0.113.7:9100/metrics' }), /public target\(s\) 203\.0\.113\.7: .*Set enable_nat_gateway = true/);
  });

  test('scrape_target_cidrs that miss an IP target are refused at plan time', (t) => {
    if (!needsTerraform(t)) return;
    assertFails(
      planModule({ metrics_endpoint: 'http://203.0.113.7:9100/metrics', enable_nat_gateway: true, scrape_target_cidrs: ['198.51.100.0/24'] }),
      /target\(s\) 203\.0\.113\.7:9100 have no egress rule: scrape_target_cidrs \(198\.51\.100\.0\/24\) does not contain them/,
    );
    assertOk(planModule({ metrics_endpoint: 'http://203.0.113.7:9100/metrics', enable_nat_gateway: true, scrape_target_cidrs: ['203.0.113.0/24'] }));
  });

  test('negative: the former egress (the VCN CIDR by default) behind NAT leaves a public target without a rule, and the precondition says so', async (t) => {
    if (!needsTerraform(t)) return;
    const network = readFileSync(join(TF_DIR, 'network.tf'), 'utf8');
    const former = network.replace(
      'static_egress = length(var.scrape_target_cidrs) > 0 ? local.egress_to_given_cidrs : local.egress_to_targets',
      'static_egress = flatten([for cidr in (length(var.scrape_target_cidrs) > 0 ? var.scrape_target_cidrs : [var.vcn_cidr]) : ' +
        '[for port in local.scrape_ports : { cidr = cidr, port = port }]])',
    );
    assert.notEqual(former, network);
    const old = await standInWorkspace(TF_DIR, { 'network.tf': former });
    try {
      assertFails(
        initAndPlan(old.module, vars({ metrics_endpoint: 'http://203.0.113.7:9100/metrics', enable_nat_gateway: true })),
        /203\.0\.113\.7:9100 have no egress rule/,
      );
    } finally {
      old.dispose();
    }
  });
});

describe('SLO alarms: refused when their series is never posted', () => {
  const p99 = { slo_p99_latency_seconds: 0.5, state_bucket: 'prom2oci-state' };
  const rate = { slo_error_rate_per_second: 0.1, state_bucket: 'prom2oci-state' };

  test('the p99 alarm plans with state_bucket, quantiles and 0.99 (the defaults); each missing piece is refused', (t) => {
    if (!needsTerraform(t)) return;
    assertOk(planModule(p99));
    assertOk(planModule({ ...p99, histogram_quantiles: '0.5,0.990', derived_series: 'quantiles' }));
    const refused = /slo_p99_latency_seconds alarms on http_request_duration_seconds_p99, which the function posts only with/;
    assertFails(planModule({ ...p99, state_bucket: '' }), refused);
    assertFails(planModule({ ...p99, derived_series: 'rate,avg' }), refused);
    assertFails(planModule({ ...p99, histogram_quantiles: '0.5,0.9' }), refused);
    assertFails(planModule({ ...p99, dry_run: true }), refused);
    assertFails(planModule({ ...p99, derived_series: 'none' }), refused);
  });

  test('the error-rate alarm needs rate, a state bucket and a posting run', (t) => {
    if (!needsTerraform(t)) return;
    assertOk(planModule(rate));
    const refused = /slo_error_rate_per_second alarms on orders_failed_total_rate, which the function posts only with/;
    assertFails(planModule({ ...rate, derived_series: 'avg,quantiles' }), refused);
    assertFails(planModule({ ...rate, state_bucket: '' }), refused);
    assertFails(planModule({ ...rate, dry_run: true }), refused);
  });

  test('no threshold, no alarm, no refusal', (t) => {
    if (!needsTerraform(t)) return;
    assertOk(planModule({ derived_series: 'none', state_bucket: '' }));
  });
});

describe('shards: shard_count functions from one image, each with its own trigger, schedule and oci_faas alarms', () => {
  /** How many of a stand-in resource (`oci_x__name`, any index) a plan creates. */
  const created = (stdout: string, name: string) => [...stdout.matchAll(new RegExp(`terraform_data\\.${name}(?:\\[\\d+\\])? will be created`, 'g'))].length;

  for (const mode of ['alarm', 'resource_scheduler']) {
    test(`${mode}: shard_count = 1 and 4 plan 1 and 4 functions, each with SHARD=i/N, its bootstrap, schedule and alarms`, (t) => {
      if (!needsTerraform(t)) return;
      for (const n of [1, 4]) {
        const r = planModule({ shard_count: n, schedule_mode: mode, state_bucket: 'prom2oci-state', alarm_email: 'oncall@example.com' });
        assertOk(r);
        const per = (name: string) => [name, created(r.stdout, name)];
        const counts = Object.fromEntries([
          per('oci_functions_function__this'),
          per('oci_functions_invoke_function__bootstrap'),
          per('oci_resource_scheduler_schedule__invoke'),
          per('oci_identity_policy__schedule_invoke'),
          per('activate_schedule'),
          per('oci_monitoring_alarm__invoke_every_minute'),
          per('oci_ons_notification_topic__invoke'),
          per('oci_ons_subscription__invoke_function'),
          per('oci_monitoring_alarm__function_silent'),
          per('oci_monitoring_alarm__target_down'),
          per('oci_monitoring_alarm__function_stopped_posting'),
          per('oci_monitoring_alarm__function_stopped_posting_per_shard'),
          per('oci_functions_application__this'),
          per('oci_identity_dynamic_group__function'),
        ]) as Record<string, number>;
        const trigger = mode === 'alarm' ? n : 0;
        assert.deepEqual(
          counts,
          {
            oci_functions_function__this: n,
            oci_functions_invoke_function__bootstrap: n,
            // alarm mode: the daily kick per shard; resource_scheduler: the every-minute schedule per shard.
            oci_resource_scheduler_schedule__invoke: n,
            oci_identity_policy__schedule_invoke: n,
            activate_schedule: n,
            oci_monitoring_alarm__invoke_every_minute: trigger,
            oci_ons_notification_topic__invoke: trigger,
            oci_ons_subscription__invoke_function: trigger,
            oci_monitoring_alarm__function_silent: n,
            // Read from the one namespace all shards post to: per instance, whichever shard scrapes it.
            oci_monitoring_alarm__target_down: 1,
            // The function's own `up` absent: one alarm of the one function, or one per shard on its shard's `up`.
            oci_monitoring_alarm__function_stopped_posting: n === 1 ? 1 : 0,
            oci_monitoring_alarm__function_stopped_posting_per_shard: n === 1 ? 0 : n,
            oci_functions_application__this: 1,
            oci_identity_dynamic_group__function: 1,
          },
          `shard_count = ${n}`,
        );
        const shards = [...r.stdout.matchAll(/\+ SHARD += "(\d+\/\d+)"/g)].map((m) => m[1]).sort();
        assert.deepEqual(shards, n === 1 ? [] : ['0/4', '1/4', '2/4', '3/4'], 'each function its own SHARD; one function none');
        const upQueries = [...r.stdout.matchAll(/query += "(up\[1m\].*)"$/gm)].map((m) => m[1].replace(/\\"/g, '"')).sort();
        assert.deepEqual(
          upQueries.filter((q) => q.endsWith('.absent(72h)')),
          n === 1 ? ['up[1m].grouping().absent(72h)'] : [0, 1, 2, 3].map((i) => `up[1m]{shard = "${i}/4"}.grouping().absent(72h)`),
          "each shard's stopped-posting alarm selects its own `up`",
        );
        const names = [...r.stdout.matchAll(/display_name += "(prom2oci[\w-]*)"/g)].map((m) => m[1]);
        for (let i = 0; i < n; i++) assert.ok(names.includes(i === 0 ? 'prom2oci' : `prom2oci-${i}`), `function ${i} named (${names.join()})`);
      }
    });
  }

  test('one function set to one shard of a split (shard = "i/N", N > 1): its stopped-posting alarm reads its own `up`; 0/1: the one of before', (t) => {
    if (!needsTerraform(t)) return;
    const stopped = (shard: string) => {
      const r = planModule({ shard, alarm_email: 'oncall@example.com' });
      assertOk(r);
      const queries = [...r.stdout.matchAll(/query += "(up\[1m\].*absent\(72h\))"$/gm)].map((m) => m[1].replace(/\\"/g, '"'));
      return { queries, single: created(r.stdout, 'oci_monitoring_alarm__function_stopped_posting') };
    };
    // As the function writes it: no leading zero (SHARD=01/4 posts shard = 1/4).
    assert.deepEqual(stopped('01/4'), { queries: ['up[1m]{shard = "1/4"}.grouping().absent(72h)'], single: 0 });
    assert.deepEqual(stopped('0/1'), { queries: ['up[1m].grouping().absent(72h)'], single: 1 });
  });

  test('shard_count > 1 with shard set, or out of range, is refused', (t) => {
    if (!needsTerraform(t)) return;
    assertFails(planModule({ shard_count: 2, shard: '0/2' }), /shard_count > 1 gives each function its own SHARD: leave shard empty/);
    assertFails(planModule({ shard_count: 0 }), /shard_count must be a whole number from 1 to 1000/);
    assertFails(planModule({ shard_count: 1.5 }), /shard_count must be a whole number from 1 to 1000/);
    assertFails(planModule({ shard: '1/x' }), /shard must be i\/N/);
  });
});

describe('the Prometheus configuration as an Object Storage object (config.tf)', () => {
  /** A Prometheus configuration file on disk, as a user would name it in scrape_config_file. */
  const configFile = () => {
    const file = join(ws.root, 'prometheus.yml');
    writeFileSync(file, "scrape_configs:\n  - job_name: node\n    static_configs: [{ targets: ['10.80.3.4:9100'] }]\n");
    return file;
  };

  test('scrape_config_file: uploaded into the state bucket, named to the function, and read by a policy on that bucket only', (t) => {
    if (!needsTerraform(t)) return;
    const values = { scrape_config_file: configFile(), state_bucket: 'prom2oci-state', metrics_endpoint: '' };
    const r = planModule(values);
    assertOk(r);
    assert.match(r.stdout, /terraform_data\.oci_objectstorage_object__scrape_config\["0"\] will be created/);
    assert.match(r.stdout, /terraform_data\.oci_identity_policy__function_config\[0\] will be created/);
    assert.doesNotMatch(r.stdout, /data__oci_objectstorage_bucket__config/, "the state bucket's compartment is known: no lookup");
    assert.equal(evaluate('local.scrape_config_object', values), 'prom2oci-state/prom2oci/scrape-config.yml');
    assert.deepEqual(evaluate('local.scrape_config_uploads', values), { '0': { source: values.scrape_config_file, object: 'prom2oci/scrape-config.yml' } });
    // Another bucket: its compartment is read from the bucket, and the object goes there.
    const other = { ...values, scrape_config_bucket: 'team-configs', scrape_config_object_name: 'prom/fn.yml' };
    const o = planModule(other);
    assertOk(o);
    assert.match(o.stdout, /terraform_data\.data__oci_objectstorage_bucket__config\[0\] will be created/);
    assert.equal(evaluate('local.scrape_config_object', other), 'team-configs/prom/fn.yml');
  });

  test('scrape_config_object (your own object): no upload, the read policy on its bucket; nothing configured: neither', (t) => {
    if (!needsTerraform(t)) return;
    const own = planModule({ scrape_config_object: 'team-configs/prometheus.yml', metrics_endpoint: '' });
    assertOk(own);
    assert.doesNotMatch(own.stdout, /oci_objectstorage_object__scrape_config/);
    assert.match(own.stdout, /terraform_data\.oci_identity_policy__function_config\[0\] will be created/);
    assert.match(own.stdout, /terraform_data\.data__oci_objectstorage_namespace__this\[0\] will be created/, 'the namespace is read for the object');
    const none = planModule({});
    assertOk(none);
    assert.doesNotMatch(none.stdout, /function_config|scrape_config/);
  });

  test('refused at plan time: two configuration sources, a file with no bucket, a malformed object name', (t) => {
    if (!needsTerraform(t)) return;
    const file = configFile();
    assertFails(planModule({ scrape_config_file: file, state_bucket: '' }), /scrape_config_file is uploaded into scrape_config_bucket, or into state_bucket/);
    assertFails(
      planModule({ scrape_config_file: file, state_bucket: 'prom2oci-state', scrape_config: 'scrape_configs: []' }),
      /Set at most one of scrape_config \(inline\), scrape_config_file \(uploaded\) and scrape_config_object/,
    );
    assertFails(planModule({ scrape_config_object: 'no-object-name' }), /scrape_config_object must be empty or <bucket>\/<object>/);
    assertFails(planModule({ metrics_endpoint: '' }), /Nothing to scrape: set metrics_endpoint, a Prometheus configuration/);
  });
});

describe('apply and destroy (stand-ins; the oci CLI is a recorder)', () => {
  /** A workspace whose PATH has an `oci` that prints what it was asked. */
  async function applyWorkspace(): Promise<{ ws: StandInWorkspace; env: Record<string, string> }> {
    const w = await standInWorkspace(TF_DIR);
    const bin = join(w.root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'oci'), '#!/bin/sh\necho "OCI-CLI $*"\n');
    chmodSync(join(bin, 'oci'), 0o755);
    return { ws: w, env: { PATH: `${bin}:${process.env.PATH ?? ''}` } };
  }

  for (const [mode, cron] of [
    ['alarm', '17 4 * * *'],
    ['resource_scheduler', '* * * * *'],
  ]) {
    test(`${mode}: the schedule (${cron}) is created INACTIVE and activated by the oci CLI after its policy is created`, async (t) => {
      if (!needsTerraform(t)) return;
      const { ws: w, env } = await applyWorkspace();
      try {
        const r = terraform(w.module, ['apply', '-auto-approve', '-input=false', '-no-color', ...vars({ schedule_mode: mode })], env);
        assertOk(r);
        const text = r.stdout;
        const policyDone = text.indexOf('terraform_data.oci_identity_policy__schedule_invoke[0]: Creation complete');
        const activated = text.search(
          /terraform_data\.activate_schedule\[0\] \(local-exec\): OCI-CLI resource-scheduler schedule activate --schedule-id \S+ --region eu-frankfurt-1/,
        );
        assert.ok(policyDone >= 0 && activated > policyDone, `policy created (${policyDone}) before activation (${activated})\n${text.slice(-3000)}`);
        assert.match(text, new RegExp(`recurrence_details += "${cron.replace(/\*/g, '\\*')}"`));
        assert.match(text, /state += "INACTIVE"/);
      } finally {
        w.dispose();
      }
    });
  }

  test('shard_count = 1 keeps the addresses of the single function: a state of earlier versions plans no replacement (moved blocks)', async (t) => {
    if (!needsTerraform(t)) return;
    const { ws: w, env } = await applyWorkspace();
    try {
      const args = vars({});
      assertOk(terraform(w.module, ['apply', '-auto-approve', '-input=false', '-no-color', ...args], env));
      // The state as the single function of earlier versions left it: no index on the function and its bootstrap.
      for (const name of ['oci_functions_function__this', 'oci_functions_invoke_function__bootstrap'])
        assertOk(terraform(w.module, ['state', 'mv', '-lock=false', `terraform_data.${name}[0]`, `terraform_data.${name}`], env));
      const r = terraform(w.module, ['plan', '-input=false', '-lock=false', '-no-color', ...args], env);
      assertOk(r);
      assert.match(r.stdout, /terraform_data\.oci_functions_function__this has moved to terraform_data\.oci_functions_function__this\[0\]/);
      assert.match(
        r.stdout,
        /terraform_data\.oci_functions_invoke_function__bootstrap has moved to terraform_data\.oci_functions_invoke_function__bootstrap\[0\]/,
      );
      // (Terraform also implies this move when count is added; the moved blocks say it where a reader looks.)
      assert.match(r.stdout, /(No changes\.|Plan: 0 to add, \d+ to change, 0 to destroy)/, 'nothing created or destroyed');
      assert.doesNotMatch(r.stdout, /must be replaced|will be destroyed/);
    } finally {
      w.dispose();
    }
  });

  test('force_destroy_state_bucket: one destroy removes the triggers and the function, empties the bucket, then deletes it', async (t) => {
    if (!needsTerraform(t)) return;
    const { ws: w, env } = await applyWorkspace();
    try {
      const args = vars({ state_bucket: 'prom2oci-state', force_destroy_state_bucket: true });
      assertOk(terraform(w.module, ['apply', '-auto-approve', '-input=false', '-no-color', ...args], env));
      const r = terraform(w.module, ['destroy', '-auto-approve', '-input=false', '-no-color', ...args], env);
      assertOk(r);
      const text = r.stdout;
      const at = (re: RegExp) => text.search(re);
      const trigger = at(/terraform_data\.oci_monitoring_alarm__invoke_every_minute\[0\]: Destruction complete/);
      const fn = at(/terraform_data\.oci_functions_function__this\[0\]: Destruction complete/);
      const emptied = at(
        new RegExp(
          String.raw`terraform_data\.empty_state_bucket\[0\] \(local-exec\): ` +
            String.raw`OCI-CLI os object bulk-delete --namespace \S+ --bucket-name prom2oci-state --region eu-frankfurt-1 --force`,
        ),
      );
      const bucket = at(/terraform_data\.oci_objectstorage_bucket__state\[0\]: Destroying/);
      assert.ok(
        trigger >= 0 && fn > trigger && emptied > fn && bucket > emptied,
        `trigger ${trigger} < function ${fn} < bulk-delete ${emptied} < bucket ${bucket}\n${text.slice(-4000)}`,
      );
    } finally {
      w.dispose();
    }
  });

  test('without force_destroy_state_bucket, destroy runs no command (the documented three steps apply)', async (t) => {
    if (!needsTerraform(t)) return;
    const { ws: w, env } = await applyWorkspace();
    try {
      const args = vars({ state_bucket: 'prom2oci-state', enable_daily_kick: false });
      assertOk(terraform(w.module, ['apply', '-auto-approve', '-input=false', '-no-color', ...args], env));
      const r = terraform(w.module, ['destroy', '-auto-approve', '-input=false', '-no-color', ...args], env);
      assertOk(r);
      assert.doesNotMatch(r.stdout, /OCI-CLI/);
    } finally {
      w.dispose();
    }
  });
});
