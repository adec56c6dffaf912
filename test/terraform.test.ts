/**
 * Offline checks of terraform/ (no terraform binary or provider plugin is reachable here):
 * HCL syntax, every block against the oracle/oci 8.28.0 argument schema, references, layout,
 * and the project's own rules: an every-minute schedule that targets this function, IAM that
 * grants exactly what the function needs, and settings that cannot drift from src/config.
 * Negative fixtures (test/fixtures/terraform/*.tf) prove each check can fail.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESERVED_DIMENSIONS, SETTING_SPECS } from '../src/config/settings';
import { SELF_METRICS } from '../src/transform/selfMetrics';
import {
  auditPolicyStatement,
  checkFormat,
  checkPolicies,
  checkReferences,
  checkSchema,
  cronFiresEveryMinute,
  Finding,
  FindingRule,
  formatFinding,
  sortFindings,
  HclBody,
  HclValue,
  interpolations,
  loadSchema,
  parsePolicyStatement,
  parseTfFile,
  policyStatements,
  ProviderSchema,
  TfFile,
  TfSyntaxError,
} from './helpers/tflint';

const ROOT = join(__dirname, '..');
const TF_DIR = join(ROOT, 'terraform');
const FIXTURES = join(__dirname, 'fixtures', 'terraform');

let schema: ProviderSchema;
let files: TfFile[];

/** Parses every terraform/*.tf file (a syntax error fails with file:line). */
async function parseModule(): Promise<TfFile[]> {
  const names = readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort();
  return Promise.all(names.map((n) => parseTfFile(`terraform/${n}`, readFileSync(join(TF_DIR, n), 'utf8'))));
}

/** Parses one negative fixture. */
async function fixture(name: string): Promise<TfFile> {
  return parseTfFile(`fixtures/terraform/${name}`, readFileSync(join(FIXTURES, name), 'utf8'));
}

/** Fails with every finding listed as file:line, or passes when there are none. */
function assertNoFindings(findings: Finding[]): void {
  assert.deepEqual(findings.map(formatFinding), []);
}

/** The findings of one rule whose message contains `text`. */
function findingsOf(findings: Finding[], rule: FindingRule, text: string): Finding[] {
  return findings.filter((f) => f.rule === rule && f.message.includes(text));
}

/** All blocks `<kind> "<type>" "<name>"` across the module, by address. */
function blocks(kind: 'resource' | 'data', type: string): Map<string, HclBody> {
  const out = new Map<string, HclBody>();
  for (const f of files) {
    const byType = f.json[kind] as Record<string, Record<string, HclBody[]>> | undefined;
    for (const [name, bodies] of Object.entries(byType?.[type] ?? {})) out.set(name, bodies[0]);
  }
  return out;
}

/** The one block of a type (asserting there is exactly one). */
function onlyBlock(kind: 'resource' | 'data', type: string): HclBody {
  const all = [...blocks(kind, type).values()];
  assert.equal(all.length, 1, `expected exactly one ${kind} ${type}`);
  return all[0];
}

/** Every variable block by name. */
function variables(): Map<string, HclBody> {
  const out = new Map<string, HclBody>();
  for (const f of files) {
    const vars = f.json.variable as Record<string, HclBody[]> | undefined;
    for (const [name, bodies] of Object.entries(vars ?? {})) out.set(name, bodies[0]);
  }
  return out;
}

/** Every local by name. */
function locals(): Map<string, HclValue> {
  const out = new Map<string, HclValue>();
  for (const f of files) for (const l of (f.json.locals as HclBody[] | undefined) ?? []) for (const [k, v] of Object.entries(l)) out.set(k, v);
  return out;
}

/** A nested block's first instance. */
function child(body: HclBody, key: string): HclBody {
  const v = body[key];
  assert.ok(Array.isArray(v) && v.length > 0, `expected a "${key}" block`);
  return v[0] as HclBody;
}

/** The `count` expression of a block, normalised. */
function countOf(body: HclBody): string {
  return String(body.count ?? '').replace(/\s+/g, ' ');
}

before(async () => {
  schema = loadSchema(join(FIXTURES, 'oci-provider-schema.json'));
  files = await parseModule();
});

describe('terraform/: syntax, schema, references, layout', () => {
  test('every .tf file parses, and the module has the expected files', () => {
    const names = files.map((f) => f.file.replace('terraform/', ''));
    for (const expected of ['versions.tf', 'variables.tf', 'network.tf', 'functions.tf', 'iam.tf', 'schedule.tf', 'logging.tf', 'alarms.tf', 'outputs.tf']) {
      assert.ok(names.includes(expected), `terraform/${expected} is missing`);
    }
  });

  test('the schema fixture is the provider version pinned in versions.tf', () => {
    const shared = JSON.parse(readFileSync(join(FIXTURES, 'oci-provider-schema.json'), 'utf8')) as ProviderSchema;
    const tfBlock = files.flatMap((f) => (f.json.terraform as HclBody[] | undefined) ?? [])[0];
    const oci = (child(tfBlock, 'required_providers') as Record<string, { source: string; version: string }>).oci;
    assert.equal(oci.source, 'oracle/oci');
    assert.equal(oci.version.replace(/^=\s*/, ''), shared.version, 'required_providers must pin exactly the version the schema describes');
  });

  test('every resource and data block matches the oracle/oci schema', () => {
    assertNoFindings(checkSchema(files, schema));
  });

  test('every var., local., resource and data reference is declared and every attribute read exists', () => {
    assertNoFindings(checkReferences(files, schema));
  });

  test('every declared variable is used', () => {
    const used = new Set<string>();
    for (const f of files) for (const m of f.text.matchAll(/\bvar\.([a-z_0-9]+)/g)) used.add(m[1]);
    assert.deepEqual([...variables().keys()].filter((v) => !used.has(v)), []);
  });

  test('formatting: two-space indentation by nesting, no tabs or trailing spaces', () => {
    assertNoFindings(files.flatMap((f) => checkFormat(f.file, f.text)));
  });

  test('identity resources use the home-region provider alias', () => {
    const home = files.flatMap((f) => (f.json.provider as Record<string, HclBody[]> | undefined)?.oci ?? []).find((p) => p.alias === 'home');
    assert.ok(home, 'a provider "oci" with alias = "home" is declared');
    for (const type of ['oci_identity_dynamic_group', 'oci_identity_policy']) {
      for (const [name, body] of blocks('resource', type)) assert.equal(body.provider, '${oci.home}', `${type}.${name} must use provider = oci.home`);
    }
  });
});

describe('terraform/: the schedule fires every minute and targets this function', () => {
  test('schedule_mode defaults to resource_scheduler and offers alarm', () => {
    const v = variables().get('schedule_mode')!;
    assert.equal(v.default, 'resource_scheduler');
    const condition = String(child(v, 'validation').condition);
    assert.match(condition, /"resource_scheduler"/);
    assert.match(condition, /"alarm"/);
  });

  test('the Resource Scheduler schedule: START_RESOURCE, CRON every minute by default, this function, a JSON BODY', () => {
    const s = onlyBlock('resource', 'oci_resource_scheduler_schedule');
    assert.equal(countOf(s), '${var.schedule_mode == "resource_scheduler" ? 1 : 0}');
    assert.equal(s.action, 'START_RESOURCE');
    assert.equal(s.recurrence_type, 'CRON');
    assert.equal(s.recurrence_details, '${var.schedule_cron}');
    const cron = String(variables().get('schedule_cron')!.default);
    assert.ok(cronFiresEveryMinute(cron), `default schedule_cron "${cron}" must fire every minute`);
    assert.notEqual(s.state, 'INACTIVE');
    const resources = s.resources as HclBody[];
    assert.equal(resources.length, 1, 'the schedule targets exactly one resource');
    assert.equal(resources[0].id, '${oci_functions_function.this.id}');
    const params = resources[0].parameters as HclBody[];
    assert.equal(params.length, 1);
    assert.equal(params[0].parameter_type, 'BODY');
    assert.deepEqual(params[0].value, ['${local.invoke_body}']);
    assert.equal(locals().get('invoke_body'), '${jsonencode({ dryRun = var.dry_run })}', 'the body mirrors DRY_RUN, so a scheduled run never overrides it');
  });

  test('cronFiresEveryMinute accepts only every-minute expressions', () => {
    for (const ok of ['* * * * *', '*/1 * * * *', ' 0-59 * * * * ']) assert.ok(cronFiresEveryMinute(ok), ok);
    for (const bad of ['*/5 * * * *', '0 * * * *', '* */1 * * *x', '* * * *', '* 1 * * *']) assert.equal(cronFiresEveryMinute(bad), false, bad);
  });

  test('the alarm mode: an always-firing alarm repeating every minute -> topic -> ORACLE_FUNCTIONS subscription to this function', () => {
    const alarm = blocks('resource', 'oci_monitoring_alarm').get('invoke_every_minute')!;
    assert.equal(countOf(alarm), '${var.schedule_mode == "alarm" ? 1 : 0}');
    assert.equal(alarm.repeat_notification_duration, 'PT1M');
    assert.equal(alarm.pending_duration, 'PT1M');
    assert.equal(alarm.is_enabled, true);
    assert.equal(alarm.is_notifications_per_metric_dimension_enabled, false, 'one notification (= one invocation) per minute, not one per target');
    assert.deepEqual(alarm.destinations, ['${oci_ons_notification_topic.invoke[0].id}']);
    // Fires while `up` is present (base rule) and while it is absent (override): always.
    assert.match(String(alarm.query), /^up\[1m\]\.grouping\(\)\.count\(\) >= 0$/);
    assert.match(String(child(alarm, 'overrides').query), /^up\[1m\]\.grouping\(\)\.absent\(72h\)$/);
    const sub = blocks('resource', 'oci_ons_subscription').get('invoke_function')!;
    assert.equal(countOf(sub), '${var.schedule_mode == "alarm" ? 1 : 0}');
    assert.equal(sub.protocol, 'ORACLE_FUNCTIONS');
    assert.equal(sub.endpoint, '${oci_functions_function.this.id}');
    assert.equal(sub.topic_id, '${oci_ons_notification_topic.invoke[0].id}');
  });
});

describe('terraform/: alarms and outputs query metrics the function really posts', () => {
  test('every alarm query and the Metric Explorer query read self-metrics by their posted names and dimensions', () => {
    const selfNames = new Set(SELF_METRICS.map((m) => m.name));
    const queries: string[] = [];
    for (const body of blocks('resource', 'oci_monitoring_alarm').values()) {
      queries.push(String(body.query));
      for (const o of (body.overrides as HclBody[] | undefined) ?? []) queries.push(String(o.query));
      assert.equal(body.namespace, '${var.metrics_namespace}', 'alarms read the namespace the function posts to');
      assert.equal(body.metric_compartment_id, '${var.compartment_ocid}', 'alarms read the compartment the function posts to');
    }
    const outputs = files.flatMap((f) => Object.entries((f.json.output as Record<string, HclBody[]> | undefined) ?? {}));
    const explorer = outputs.find(([name]) => name === 'metric_explorer_query')![1][0].value as Record<string, string>;
    queries.push(explorer.query);
    assert.ok(queries.length >= 5);
    for (const q of queries) {
      const metric = /^([A-Za-z_][\w.$-]*)\[/.exec(q)?.[1];
      assert.ok(metric && selfNames.has(metric), `${q} reads a self-metric (${[...selfNames].join(', ')})`);
      for (const m of q.matchAll(/groupBy\(([^)]*)\)/g)) assert.equal(m[1], 'instance', `${q} groups by the instance dimension the function sets`);
    }
  });

  test('target down fires per instance on up < 1; function silent fires on absent up', () => {
    const alarms = blocks('resource', 'oci_monitoring_alarm');
    const down = alarms.get('target_down')!;
    assert.equal(down.query, 'up[1m].groupBy(instance).max() < 1');
    assert.equal(down.is_notifications_per_metric_dimension_enabled, true);
    assert.equal(alarms.get('function_silent')!.query, 'up[1m].grouping().absent()');
    for (const a of [down, alarms.get('function_silent')!]) assert.equal(countOf(a), '${var.enable_alarms ? 1 : 0}');
  });
});

describe('terraform/: IAM grants exactly what the function needs', () => {
  test('every policy statement passes the least-privilege audit', () => {
    assertNoFindings(checkPolicies(files));
  });

  test('the statements are exactly: use metrics (namespace), read secret-bundles (one secret), the schedule may invoke', () => {
    const kinds = policyStatements(files).flatMap((p) => p.statements.map((s) => {
      const parsed = parsePolicyStatement(s)!;
      return `${p.address}: ${parsed.subject.split(' ')[0]} ${parsed.verb} ${parsed.resource}`;
    }));
    assert.deepEqual(kinds.sort(), [
      'oci_identity_policy.function_metrics: dynamic-group use metrics',
      'oci_identity_policy.function_secret: dynamic-group read secret-bundles',
      'oci_identity_policy.schedule_invoke: any-user read fn-function',
      'oci_identity_policy.schedule_invoke: any-user use fn-invocation',
    ]);
  });

  test('each condition names the configured value, not a placeholder or a wildcard', () => {
    const byAddress = new Map(policyStatements(files).map((p) => [p.address, p]));
    const metrics = parsePolicyStatement(byAddress.get('oci_identity_policy.function_metrics')!.statements[0])!;
    assert.deepEqual(metrics.conditions, [{ variable: 'target.metrics.namespace', operator: '=', value: '<expr>' }]);
    assert.match(byAddress.get('oci_identity_policy.function_metrics')!.statements[0], /target\.metrics\.namespace = '\$\{var\.metrics_namespace\}'/);
    assert.match(byAddress.get('oci_identity_policy.function_metrics')!.statements[0], /in compartment id \$\{var\.compartment_ocid\} /);
    const secret = byAddress.get('oci_identity_policy.function_secret')!;
    assert.match(secret.statements[0], /target\.secret\.id = '\$\{var\.scrape_bearer_token_secret_ocid\}'/);
    assert.equal(countOf(secret.body), '${local.secret_configured ? 1 : 0}', 'the secret grant exists only when a secret is configured');
    assert.equal(locals().get('secret_configured'), '${var.scrape_bearer_token_secret_ocid != ""}');
    const invoke = byAddress.get('oci_identity_policy.schedule_invoke')!;
    assert.equal(countOf(invoke.body), '${var.schedule_mode == "resource_scheduler" ? 1 : 0}');
    for (const s of invoke.statements) {
      assert.match(s, /request\.principal\.type = 'resourceschedule'/);
      assert.match(s, /request\.principal\.id = '\$\{oci_resource_scheduler_schedule\.every_minute\[0\]\.id\}'/);
    }
  });

  test('the dynamic group matches this function only (resource.type fnfunc and its OCID)', () => {
    const dg = onlyBlock('resource', 'oci_identity_dynamic_group');
    assert.equal(dg.compartment_id, '${var.tenancy_ocid}', 'dynamic groups live in the tenancy');
    assert.equal(dg.matching_rule, "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.this.id}'}");
    for (const p of policyStatements(files).filter((x) => x.address !== 'oci_identity_policy.schedule_invoke')) {
      for (const s of p.statements) assert.match(s, /^Allow dynamic-group \$\{oci_identity_dynamic_group\.function\.name\} to /);
    }
  });

  test('auditPolicyStatement accepts the allowed shapes and rejects broader ones', () => {
    const ok = [
      "Allow dynamic-group fn to use metrics in compartment id ocid1.compartment.oc1..aaa where target.metrics.namespace = 'bharatmart'",
      "Allow dynamic-group fn to read secret-bundles in compartment id ocid1.compartment.oc1..aaa where target.secret.id = 'ocid1.vaultsecret.oc1.x.y'",
      "Allow any-user to use fn-invocation in compartment id ocid1.compartment.oc1..aaa where all {request.principal.type = 'resourceschedule', request.principal.id = 'ocid1.resourceschedule.oc1.x.y'}",
    ];
    for (const s of ok) assert.deepEqual(auditPolicyStatement(s), [], s);
    const bad: [string, RegExp][] = [
      ['Allow dynamic-group fn to manage all-resources in tenancy', /grants manage/],
      ['Allow dynamic-group fn to manage all-resources in tenancy', /all-resources/],
      ['Allow dynamic-group fn to use metrics in tenancy where target.metrics.namespace = \'x\'', /expected one compartment/],
      ['Allow dynamic-group fn to use metrics in compartment id ocid1.compartment.oc1..aaa', /lacks the condition target\.metrics\.namespace/],
      ['Allow dynamic-group fn to read secret-bundles in compartment id ocid1.compartment.oc1..aaa', /lacks the condition target\.secret\.id/],
      ['Allow dynamic-group fn to read secret-family in compartment id ocid1.compartment.oc1..aaa', /whole family/],
      ['Allow any-user to use fn-invocation in compartment id ocid1.compartment.oc1..aaa', /lacks the condition request\.principal\.type/],
      ["Allow any-user to use fn-invocation in compartment id c where any {request.principal.type = 'resourceschedule', request.principal.id = 'x'}", /widens/],
      ["Allow any-user to use fn-invocation in compartment id c where all {request.principal.type = 'fnfunc', request.principal.id = 'x'}", /must be 'resourceschedule'/],
      ["Allow group Admins to use metrics in compartment id c where target.metrics.namespace = 'x'", /subject "group Admins"/],
      ['Allow dynamic-group fn to {METRIC_INSPECT} in compartment id c', /raw permission list|cannot parse/],
      ['Allow dynamic-group fn to use virtual-network-family in compartment id c', /not one of the allowed grants/],
      ['Give everything to everyone', /cannot parse/],
    ];
    for (const [s, re] of bad) assert.ok(auditPolicyStatement(s).some((p) => re.test(p)), `${s} -> ${JSON.stringify(auditPolicyStatement(s))}`);
  });
});

describe('terraform/: the function settings cannot drift from src/config/settings.ts', () => {
  test('every SETTING_SPECS key has a variable (lower case) with the same default, and vice versa in the config map', () => {
    const vars = variables();
    const settingsMap = locals().get('function_settings') as Record<string, string>;
    assert.ok(settingsMap && typeof settingsMap === 'object', 'local.function_settings is a map literal');
    const specKeys = SETTING_SPECS.map((s) => s.key).sort();
    assert.deepEqual(Object.keys(settingsMap).sort(), specKeys, 'local.function_settings has exactly the SETTING_SPECS keys');
    for (const spec of SETTING_SPECS) {
      const name = spec.key.toLowerCase();
      const v = vars.get(name);
      assert.ok(v, `variable "${name}" for ${spec.key} is missing`);
      const value = settingsMap[spec.key];
      assert.ok(
        value === `\${var.${name}}` || value === `\${tostring(var.${name})}`,
        `function_settings.${spec.key} must be fed by var.${name}, got ${value}`,
      );
      if (spec.required === 'always' || spec.required === 'unless-dry-run') {
        assert.equal('default' in v, false, `${name} is required by the function, so it has no default`);
      } else {
        const tfDefault = v.default;
        assert.equal(tfDefault === undefined || tfDefault === null ? undefined : String(tfDefault), spec.default ?? '', `${name}: default must equal SETTING_SPECS (${spec.default ?? 'none = ""'})`);
      }
    }
  });

  test('only variables of the function settings feed the application config, and empty values are dropped', () => {
    const specNames = new Set(SETTING_SPECS.map((s) => s.key.toLowerCase()));
    const settingsMap = locals().get('function_settings') as Record<string, string>;
    for (const [key, value] of Object.entries(settingsMap)) {
      const refs = interpolations(value).flatMap((e) => [...e.matchAll(/var\.([a-z_0-9]+)/g)].map((m) => m[1]));
      assert.deepEqual(refs, [key.toLowerCase()], `${key} reads only its own variable`);
      assert.ok(specNames.has(refs[0]));
    }
    assert.equal(locals().get('application_config'), '${{ for k, v in local.function_settings : k => v if v != "" }}');
    const app = onlyBlock('resource', 'oci_functions_application');
    assert.equal(app.config, '${local.application_config}');
    const fn = onlyBlock('resource', 'oci_functions_function');
    assert.equal('config' in fn, false, 'the function itself has no config: the application config is the one source');
  });

  test('variables that the function validates carry a Terraform validation too', () => {
    const vars = variables();
    for (const name of ['metrics_endpoint', 'compartment_ocid', 'metrics_namespace', 'resource_group', 'extra_dimensions', 'scrape_bearer_token_secret_ocid', 'scrape_timeout_ms', 'scrape_max_bytes', 'secret_cache_ttl_seconds', 'post_calls_per_second', 'post_concurrency', 'post_timeout_ms', 'function_timeout_seconds', 'oci_monitoring_endpoint', 'oci_secrets_endpoint']) {
      assert.ok(Array.isArray(vars.get(name)!.validation), `${name} has a validation block`);
    }
    const ns = String(child(vars.get('metrics_namespace')!, 'validation').condition);
    assert.match(ns, /\^\[A-Za-z\]\[A-Za-z0-9_\]\*\$/);
    assert.match(ns, /oci_\|oracle_/, 'the reserved prefixes are rejected');
  });

  test('the Terraform validation regexes agree with the function on sample values', () => {
    // The same patterns, evaluated with JS (RE2 and JS agree on these simple classes).
    const vars = variables();
    const pattern = (name: string, index = 0) => {
      const cond = String(child(vars.get(name)!, 'validation').condition);
      const all = [...cond.matchAll(/regex\("((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
      return new RegExp(all[index].replace('(?i)', ''), all[index].includes('(?i)') ? 'i' : '');
    };
    const endpoint = pattern('metrics_endpoint');
    assert.ok(endpoint.test('http://10.0.0.5:3000/metrics') && endpoint.test('https://host.example/metrics?x=1'));
    assert.ok(!endpoint.test('ftp://10.0.0.5/metrics') && !endpoint.test('10.0.0.5:3000'));
    const ns = pattern('metrics_namespace', 0);
    const reserved = pattern('metrics_namespace', 1);
    assert.ok(ns.test('bharatmart') && !ns.test('1abc') && !ns.test('a-b'));
    assert.ok(reserved.test('oci_x') && reserved.test('ORACLE_y') && !reserved.test('ocix'));
    const comp = pattern('compartment_ocid');
    assert.ok(comp.test('ocid1.compartment.oc1..aaaaaaaabbbbcccc') && comp.test('ocid1.tenancy.oc1..aaaaaaaa'));
    assert.ok(!comp.test('ocid1.instance.oc1.eu-frankfurt-1.aaaa') && !comp.test('compartment'));
    const reservedNames = [...RESERVED_DIMENSIONS];
    const tfReserved = /!contains\(\[([^\]]*)\]/.exec(String(child(vars.get('extra_dimensions')!, 'validation').condition));
    assert.ok(tfReserved, 'extra_dimensions rejects the reserved names');
    assert.deepEqual([...tfReserved[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]), reservedNames, 'the dimensions prom2oci sets itself are rejected');
    const image = pattern('function_image');
    assert.ok(image.test('fra.ocir.io/axns/prom2oci/prom2oci:0.1.0') && image.test(`iad.ocir.io/ns/prom2oci@sha256:${'a'.repeat(64)}`));
    assert.ok(!image.test('prom2oci') && !image.test('fra.ocir.io/axns/prom2oci/prom2oci'), 'an image needs a registry and a tag or digest');
    const region = pattern('region');
    assert.ok(region.test('eu-frankfurt-1') && region.test('us-ashburn-1') && !region.test('FRA'));
    const dims = pattern('extra_dimensions');
    assert.ok(dims.test('env=prod') && dims.test('team = sre') && !dims.test('=x') && !dims.test('k=') && !dims.test('a b=c'));
  });

  test('func.yaml agrees with Terraform on the function name, memory and timeout (fn deploy applies them)', () => {
    const yaml = readFileSync(join(ROOT, 'func.yaml'), 'utf8');
    const field = (k: string) => /^(\S+):\s*(.*?)\s*$/m.exec(yaml.split('\n').find((l) => l.startsWith(`${k}:`)) ?? '')?.[2];
    const vars = variables();
    assert.equal(field('name'), vars.get('function_name')!.default);
    const memory = field('memory');
    if (memory !== undefined) assert.equal(Number(memory), vars.get('memory_in_mbs')!.default);
    const timeout = field('timeout');
    if (timeout !== undefined) assert.equal(Number(timeout), vars.get('timeout_in_seconds')!.default);
    assert.equal(/^config:/m.test(yaml), false, 'func.yaml must not set config: the application config is the one source');
  });

  test('the function: image ignored after creation (fn deploy owns it), sizes from variables', () => {
    const fn = onlyBlock('resource', 'oci_functions_function');
    assert.deepEqual(child(fn, 'lifecycle').ignore_changes, ['${image}', '${image_digest}']);
    assert.equal(fn.display_name, '${var.function_name}');
    assert.equal(fn.memory_in_mbs, '${tostring(var.memory_in_mbs)}');
    assert.equal(fn.timeout_in_seconds, '${var.timeout_in_seconds}');
    assert.equal(fn.detached_mode_timeout_in_seconds, '${var.detached_mode_timeout_in_seconds}');
    const vars = variables();
    assert.ok(Number(vars.get('function_timeout_seconds')!.default) <= Number(vars.get('timeout_in_seconds')!.default));
  });
});

describe('terraform/terraform.tfvars.example', () => {
  test('sets every variable without a default, and only declared variables', async () => {
    const example = await parseTfFile('terraform/terraform.tfvars.example', readFileSync(join(TF_DIR, 'terraform.tfvars.example'), 'utf8'));
    const vars = variables();
    const required = [...vars.entries()].filter(([, v]) => !('default' in v)).map(([k]) => k).sort();
    const set = Object.keys(example.json);
    assert.deepEqual(required.filter((k) => !set.includes(k)), [], 'required variables missing from the example');
    assert.deepEqual(set.filter((k) => !vars.has(k)), [], 'example sets undeclared variables');
    assert.equal(/(token|password)\s*=/i.test(example.text), false, 'no secret values in the example');
  });
});

describe('the checker finds what it must (negative fixtures)', () => {
  test('a syntax error is reported with file:line', async () => {
    await assert.rejects(fixture('syntax_error.tf'), (e: unknown) => {
      assert.ok(e instanceof TfSyntaxError);
      assert.equal(e.file, 'fixtures/terraform/syntax_error.tf');
      assert.equal(e.line, 4);
      assert.match(e.message, /^fixtures\/terraform\/syntax_error\.tf:4: /);
      return true;
    });
  });

  test('a misspelt argument name', async () => {
    const findings = checkSchema([await fixture('bad_argument_name.tf')], schema);
    const f = findingsOf(findings, 'unknown-argument', '"memory_in_mb"');
    assert.equal(f.length, 1, findings.map(formatFinding).join('\n'));
    assert.equal(f[0].line, 5);
    assert.match(f[0].message, /did you mean "memory_in_mbs"/);
    assert.equal(findingsOf(findings, 'missing-required', '"memory_in_mbs"').length, 1, 'and the real argument is then missing');
  });

  test('a missing required argument', async () => {
    const findings = checkSchema([await fixture('missing_required.tf')], schema);
    assert.deepEqual(findings.map(formatFinding), [
      'fixtures/terraform/missing_required.tf:2: [missing-required] oci_functions_application.broken: missing required argument "subnet_ids"',
    ]);
  });

  test('a bad enum value in a nested block', async () => {
    const findings = checkSchema([await fixture('bad_enum.tf')], schema);
    assert.deepEqual(findings.map(formatFinding), [
      'fixtures/terraform/bad_enum.tf:12: [invalid-enum] oci_resource_scheduler_schedule.broken.resources[0].parameters[0].parameter_type: "PAYLOAD" is not one of BODY, HEADER, PATH, QUERY',
    ]);
  });

  test('enum comparison honours enum_ignore_case', async () => {
    const text = readFileSync(join(FIXTURES, 'bad_enum.tf'), 'utf8').replace('"PAYLOAD"', '"body"');
    assert.deepEqual(checkSchema([await parseTfFile('lower.tf', text)], schema), []);
  });

  test('an over-broad policy', async () => {
    const findings = checkPolicies([await fixture('broad_policy.tf')]);
    const lines = findings.map(formatFinding);
    assert.ok(findingsOf(findings, 'policy', 'grants manage').length === 1, lines.join('\n'));
    assert.ok(findingsOf(findings, 'policy', 'grants all-resources').length === 1);
    assert.ok(findingsOf(findings, 'policy', 'applies to "tenancy"').length === 1);
    assert.ok(findingsOf(findings, 'policy', 'lacks the condition target.metrics.namespace').length === 1);
    assert.ok(findings.every((f) => f.line === 7 || f.line === 8), lines.join('\n'));
  });

  test('a computed-only attribute, too many blocks, an unknown timeout', async () => {
    const findings = checkSchema([await fixture('computed_and_max_items.tf')], schema);
    assert.deepEqual(sortFindings(findings).map(formatFinding), [
      'fixtures/terraform/computed_and_max_items.tf:7: [computed-only] oci_functions_application.broken.state: "state" is computed by the provider and cannot be set',
      'fixtures/terraform/computed_and_max_items.tf:13: [max-items] oci_functions_application.broken.trace_config: at most 1 "trace_config" block(s) allowed, found 2',
      'fixtures/terraform/computed_and_max_items.tf:19: [timeouts] oci_functions_application.broken.timeouts: "read" is not a timeout of this resource (create, update, delete)',
    ]);
  });

  test('unknown types, dynamic blocks, meta-arguments, undeclared references and bad attribute reads', async () => {
    const text = [
      'resource "oci_functions_functoin" "a" {',
      '  display_name = "x"',
      '}',
      '',
      'resource "oci_core_security_list" "b" {',
      '  count          = 1',
      '  compartment_id = var.nope',
      '  vcn_id         = oci_core_vcn.missing.id',
      '  display_name   = oci_core_security_list.b.invoke_endpoint',
      '',
      '  dynamic "egress_security_rules" {',
      '    for_each = [1]',
      '    content {',
      '      destination = "0.0.0.0/0"',
      '      protocl     = "6"',
      '    }',
      '  }',
      '',
      '  lifecycle {',
      '    create_before_destroy = true',
      '  }',
      '}',
      '',
    ].join('\n');
    const f = await parseTfFile('mixed.tf', text);
    const schemaFindings = sortFindings(checkSchema([f], schema)).map(formatFinding);
    assert.deepEqual(schemaFindings, [
      'mixed.tf:1: [unknown-type] oci_functions_functoin.a: resource type "oci_functions_functoin" is not in the oracle/oci 8.28.0 schema',
      'mixed.tf:13: [missing-required] oci_core_security_list.b.egress_security_rules.content: missing required argument "protocol"',
      'mixed.tf:15: [unknown-argument] oci_core_security_list.b.egress_security_rules.content.protocl: unknown argument or block "protocl" (did you mean "protocol"?)',
    ]);
    const refFindings = sortFindings(checkReferences([f], schema)).map(formatFinding);
    assert.deepEqual(refFindings, [
      'mixed.tf:7: [undeclared-reference] var.nope is not declared',
      'mixed.tf:8: [undeclared-reference] oci_core_vcn.missing is not declared',
      'mixed.tf:9: [unknown-attribute-reference] oci_core_security_list.b: no attribute "invoke_endpoint"',
    ]);
  });

  test('format findings: tabs, wrong indentation, trailing spaces', () => {
    const findings = checkFormat('f.tf', 'resource "a" "b" {\n\tx = 1\n   y = 2 \n}\n').map(formatFinding);
    assert.deepEqual(findings, [
      'f.tf:2: [format] tab character (use two spaces)',
      'f.tf:2: [format] indented 1 spaces, expected 2',
      'f.tf:3: [format] trailing whitespace',
      'f.tf:3: [format] indented 3 spaces, expected 2',
    ]);
  });
});
