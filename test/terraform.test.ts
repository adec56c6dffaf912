/**
 * Offline checks of terraform/ (no terraform binary or provider plugin is reachable here):
 * HCL syntax, every block against the oracle/oci 8.28.0 argument schema, references, layout,
 * and the project's own rules: an every-minute schedule that targets this function, IAM that
 * grants exactly what the function needs, and settings that cannot drift from src/config.
 * Negative fixtures (test/fixtures/terraform/*.tf) prove each check can fail.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESERVED_DIMENSIONS, SETTING_SPECS } from '../src/config/settings';
import { parseMql } from '../src/local/emulator/mql';
import { SELF_METRICS } from '../src/transform/selfMetrics';
import { quantileSuffix } from '../src/transform/derive';
import { DISCOVERY_OPERATIONS, IAM_GRANTS } from '../src/oci/iam';
import {
  auditConditionVariables,
  auditMatchingRule,
  auditPolicyStatement,
  checkFormat,
  checkPolicies,
  checkReferences,
  checkSchema,
  cronFiresDaily,
  cronFiresEveryMinute,
  type Finding,
  type FindingRule,
  formatFinding,
  sortFindings,
  type HclBody,
  type HclValue,
  hclText,
  interpolations,
  loadSchema,
  parsePolicyStatement,
  parseTfFile,
  policyStatements,
  POLICY_CONDITION_VARIABLES,
  type ProviderSchema,
  type TfFile,
  TfSyntaxError,
} from './helpers/tflint';
import { terraform, TERRAFORM } from './helpers/tfstandin';

const ROOT = join(__dirname, '..');
const TF_DIR = join(ROOT, 'terraform');
const FIXTURES = join(__dirname, 'fixtures', 'terraform');

let schema: ProviderSchema;
let files: TfFile[];

/** Parses every terraform/*.tf file (a syntax error fails with file:line). */
async function parseModule(): Promise<TfFile[]> {
  const names = readdirSync(TF_DIR)
    .filter((f) => f.endsWith('.tf'))
    .sort();
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
  return hclText(body.count ?? '').replace(/\s+/g, ' ');
}

/** Replaces `${local.name}` by the local's own (string) value, so queries built from locals can be read. */
function resolveLocals(text: string): string {
  return text.replace(/\$\{local\.([A-Za-z_][\w-]*)\}/g, (whole, name: string) => {
    const v = locals().get(name);
    return typeof v === 'string' ? resolveLocals(v) : whole;
  });
}

/** The queries of an alarm: its base rule, then its overrides. */
/** An SLO alarm query with example values for its variables (metric names and thresholds are variables). */
function withSloExamples(q: string): string {
  return q
    .replaceAll('${var.slo_latency_histogram}', 'http_request_duration_seconds')
    .replaceAll('${var.slo_error_counter}', 'orders_failed_total')
    .replaceAll('${var.slo_p99_latency_seconds}', '0.5')
    .replaceAll('${var.slo_error_rate_per_second}', '0.1');
}

function alarmQueries(alarm: HclBody): string[] {
  return [hclText(alarm.query), ...((alarm.overrides as HclBody[] | undefined) ?? []).map((o) => hclText(o.query))].map(resolveLocals);
}

/** oci_faas metrics and dimensions as OCI's "Function Metrics" page documents them. */
const OCI_FAAS_METRICS = ['FunctionInvocationCount', 'FunctionExecutionDuration', 'FunctionResponseCount', 'FunctionDetachedDeliveries'];
const OCI_FAAS_DIMENSIONS = [
  'resourceId',
  'resourceName',
  'resourceDisplayName',
  'applicationId',
  'applicationShape',
  'compartmentId',
  'responseType',
  'invokeType',
];
/** The function of the resource's own shard (count.index): each shard's trigger and alarms read its own function. */
const THIS_FUNCTION = '${oci_functions_function.this[count.index].id}';

/** Problems of one oci_faas query: a documented metric, filtered on this function's resourceId (`function`: shard 0's in an output), documented dimensions. */
function checkFaasQuery(q: string, function_ = THIS_FUNCTION): string[] {
  const m = /^([A-Za-z]+)\[\d+[mh]\]\{((?:[^{}]|\$\{[^}]*\})*)\}/.exec(q);
  if (!m) return [`${q}: expected <oci_faas metric>[interval]{resourceId = "<function OCID>"}...`];
  const problems: string[] = [];
  if (!OCI_FAAS_METRICS.includes(m[1])) problems.push(`${m[1]} is not an oci_faas metric (${OCI_FAAS_METRICS.join(', ')})`);
  const dims = new Map([...m[2].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)].map((d) => [d[1], d[2]]));
  if (dims.get('resourceId') !== function_) problems.push(`${q}: must filter resourceId = "${function_}" (this function only)`);
  for (const d of dims.keys()) if (!OCI_FAAS_DIMENSIONS.includes(d)) problems.push(`${d} is not an oci_faas dimension`);
  return problems;
}

/** Problems of an absent() use: the period must be given and be the longest OCI allows (72h). */
function checkAbsencePeriod(q: string): string[] {
  return [...q.matchAll(/absent\(([^)]*)\)/g)].flatMap((m) =>
    m[1].trim() === ''
      ? [`${q}: absent() uses the 2-hour default and then stops firing; write absent(72h)`]
      : m[1].trim() === '72h' || m[1].trim() === '3d'
        ? []
        : [`${q}: absent(${m[1]}) stops firing sooner than the 72h maximum`],
  );
}

/**
 * Problems of an alarm query's syntax, read with the project's MQL parser (src/local/emulator/mql.ts):
 * the query without its alarm condition (`> 0`), with absent's period (1m to 72h) checked here
 * and interpolations replaced by an OCID-like value.
 */
function checkAlarmQuerySyntax(q: string): string[] {
  const problems: string[] = [];
  let text = q.replace(/\$\{[^}]*\}/g, 'ocid1.fnfunc.oc1.eu-frankfurt-1.aaaaexample');
  const condition = /^(.*?)\s*(>=|<=|==|!=|>|<)\s*-?\d+(\.\d+)?$/.exec(text);
  if (condition) text = condition[1];
  else if (!/\.absent\([^)]*\)$/.test(text)) problems.push(`${q}: an alarm query ends with a condition such as "> 0" (or with absent(), itself a condition)`);
  text = text.replace(/absent\(([^)]*)\)/, (_all, period: string) => {
    const m = /^(\d+)([mhd])$/.exec(period.trim());
    const minutes = m ? Number(m[1]) * { m: 1, h: 60, d: 1440 }[m[2] as 'm' | 'h' | 'd'] : NaN;
    if (period.trim() !== '' && !(minutes >= 1 && minutes <= 72 * 60)) problems.push(`${q}: absent(${period}) is outside 1m..72h`);
    return 'absent()';
  });
  try {
    parseMql(text);
  } catch (e) {
    problems.push(`${q}: ${(e as Error).message}`);
  }
  return problems;
}

/** Problems of the every-minute trigger alarm: always firing on this function's oci_faas invocation count, repeating every minute. */
function checkEveryMinuteTrigger(alarm: HclBody): string[] {
  const problems: string[] = [];
  if (alarm.namespace !== 'oci_faas')
    problems.push(`namespace must be oci_faas (a platform metric that exists whatever the function posts), got ${hclText(alarm.namespace)}`);
  if (alarm.repeat_notification_duration !== 'PT1M')
    problems.push(`repeat_notification_duration must be PT1M, got ${hclText(alarm.repeat_notification_duration)}`);
  if (alarm.is_enabled !== true) problems.push('is_enabled must be true');
  if (alarm.is_notifications_per_metric_dimension_enabled !== false)
    problems.push('one notification (= one invocation) per minute: is_notifications_per_metric_dimension_enabled = false');
  const rules = [alarm, ...((alarm.overrides as HclBody[] | undefined) ?? [])];
  for (const r of rules) if (r.pending_duration !== 'PT1M') problems.push(`every rule fires after PT1M, got ${hclText(r.pending_duration)}`);
  const queries = alarmQueries(alarm);
  const stream = `FunctionInvocationCount[1m]{resourceId = "${THIS_FUNCTION}"}`;
  if (!queries.includes(`${stream}.grouping().sum() >= 0`)) problems.push(`a rule must fire while invocations are counted: ${stream}.grouping().sum() >= 0`);
  if (!queries.includes(`${stream}.grouping().absent(72h)`)) problems.push(`a rule must fire while they are absent: ${stream}.grouping().absent(72h)`);
  return problems;
}

/** Problems of the "function silent" alarm: platform metrics of this function, failing or not invoked, sustained. */
function checkFunctionSilent(alarm: HclBody): string[] {
  const problems: string[] = [];
  if (alarm.namespace !== 'oci_faas')
    problems.push(`namespace must be oci_faas (the platform's metrics exist for a deployment that never posted), got ${hclText(alarm.namespace)}`);
  const queries = alarmQueries(alarm);
  const errors = `FunctionResponseCount[1m]{resourceId = "${THIS_FUNCTION}", responseType = "Error"}.grouping().sum() > 0`;
  const notInvoked = `FunctionInvocationCount[1m]{resourceId = "${THIS_FUNCTION}"}.grouping().absent(72h)`;
  if (!queries.includes(errors)) problems.push(`a rule must fire on error responses: ${errors}`);
  if (!queries.includes(notInvoked)) problems.push(`a rule must fire when the function is not invoked: ${notInvoked}`);
  for (const r of [alarm, ...((alarm.overrides as HclBody[] | undefined) ?? [])])
    if (r.pending_duration !== 'PT5M')
      problems.push(`each rule must hold 5 minutes before firing (one failed run is not "silent"), got ${hclText(r.pending_duration)}`);
  return problems;
}

/**
 * The shared schema plus the entries it lacks (test/fixtures/terraform/oci-provider-schema-supplement.json,
 * read from the provider's Go source in the same layout): the shared file's own entries win.
 */
function withSupplement(shared: ProviderSchema): ProviderSchema {
  const extra = JSON.parse(readFileSync(join(FIXTURES, 'oci-provider-schema-supplement.json'), 'utf8')) as Pick<ProviderSchema, 'resources' | 'data_sources'>;
  return { ...shared, resources: { ...extra.resources, ...shared.resources }, data_sources: { ...extra.data_sources, ...shared.data_sources } };
}

before(async () => {
  schema = withSupplement(loadSchema(join(FIXTURES, 'oci-provider-schema.json')));
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
    assert.deepEqual(
      [...variables().keys()].filter((v) => !used.has(v)),
      [],
    );
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
  test('schedule_mode defaults to alarm (the documented 1-minute mechanism) and offers resource_scheduler as opt-in', () => {
    const v = variables().get('schedule_mode')!;
    assert.equal(v.default, 'alarm');
    const condition = hclText(child(v, 'validation').condition);
    assert.match(condition, /"resource_scheduler"/);
    assert.match(condition, /"alarm"/);
  });

  test('the Resource Scheduler schedule: START_RESOURCE, CRON every minute (resource_scheduler) or daily (the kick), this function, a JSON BODY', () => {
    const s = onlyBlock('resource', 'oci_resource_scheduler_schedule');
    assert.equal(countOf(s), '${local.schedule_enabled ? var.shard_count : 0}', 'one per shard');
    assert.equal(locals().get('schedule_enabled'), '${var.schedule_mode == "resource_scheduler" || var.enable_daily_kick}');
    assert.equal(variables().get('enable_daily_kick')!.default, true, 'the daily kick is on by default in alarm mode');
    assert.equal(s.action, 'START_RESOURCE');
    assert.equal(s.recurrence_type, 'CRON');
    assert.equal(s.recurrence_details, '${local.schedule_cron}');
    assert.equal(locals().get('schedule_cron'), '${var.schedule_mode == "resource_scheduler" ? var.schedule_cron : var.daily_kick_cron}');
    const cron = hclText(variables().get('schedule_cron')!.default);
    assert.ok(cronFiresEveryMinute(cron), `default schedule_cron "${cron}" must fire every minute`);
    const daily = hclText(variables().get('daily_kick_cron')!.default);
    assert.ok(cronFiresDaily(daily), `default daily_kick_cron "${daily}" must fire once a day`);
    const resources = s.resources as HclBody[];
    assert.equal(resources.length, 1, 'the schedule targets exactly one resource');
    assert.equal(resources[0].id, '${oci_functions_function.this[count.index].id}', "its shard's function");
    const params = resources[0].parameters as HclBody[];
    assert.equal(params.length, 1);
    assert.equal(params[0].parameter_type, 'BODY');
    assert.deepEqual(params[0].value, ['${local.invoke_body}']);
    assert.equal(locals().get('invoke_body'), '${jsonencode({ dryRun = var.dry_run })}', 'the body mirrors DRY_RUN, so a scheduled run never overrides it');
  });

  test('cronFiresEveryMinute accepts only every-minute expressions, cronFiresDaily only once-a-day ones', () => {
    for (const ok of ['* * * * *', '*/1 * * * *', ' 0-59 * * * * ']) assert.ok(cronFiresEveryMinute(ok), ok);
    for (const bad of ['*/5 * * * *', '0 * * * *', '* */1 * * *x', '* * * *', '* 1 * * *']) assert.equal(cronFiresEveryMinute(bad), false, bad);
    for (const ok of ['17 4 * * *', '0 0 * * *']) assert.ok(cronFiresDaily(ok), ok);
    for (const bad of ['* 4 * * *', '17 * * * *', '17 4 * * 1', '60 4 * * *', '17 24 * * *', '17 4 * *']) assert.equal(cronFiresDaily(bad), false, bad);
  });

  test('the schedule is created INACTIVE and activated only after the policy naming it exists', () => {
    const s = onlyBlock('resource', 'oci_resource_scheduler_schedule');
    assert.equal(s.state, 'INACTIVE', 'created inactive: it cannot invoke before its policy exists');
    assert.deepEqual(child(s, 'lifecycle').ignore_changes, ['${state}'], 'activated outside Terraform, which then leaves the state alone');
    const activate = blocks('resource', 'terraform_data').get('activate_schedule')!;
    assert.equal(countOf(activate), '${local.schedule_enabled ? var.shard_count : 0}');
    assert.deepEqual(activate.depends_on, ['${oci_identity_policy.schedule_invoke}'], 'after the policy');
    assert.deepEqual(activate.triggers_replace, ['${oci_resource_scheduler_schedule.invoke[count.index].id}'], 'once per schedule');
    const exec = (activate.provisioner as Record<string, HclBody[]>)['local-exec'][0];
    assert.match(
      hclText(exec.command),
      /"oci", "resource-scheduler", "schedule", "activate", "--schedule-id", oci_resource_scheduler_schedule\.invoke\[count\.index\]\.id/,
    );
    const policy = blocks('resource', 'oci_identity_policy').get('schedule_invoke')!;
    assert.equal(countOf(policy), '${local.schedule_enabled ? var.shard_count : 0}');
  });

  test(
    'the alarm mode: always firing on oci_faas FunctionInvocationCount of this ' + 'function, repeating every minute -> topic -> ORACLE_FUNCTIONS subscription',
    () => {
      const alarm = blocks('resource', 'oci_monitoring_alarm').get('invoke_every_minute')!;
      assert.deepEqual(checkEveryMinuteTrigger(alarm), []);
      assert.equal(countOf(alarm), '${var.schedule_mode == "alarm" ? var.shard_count : 0}', 'one trigger per shard');
      assert.deepEqual(alarm.destinations, ['${oci_ons_notification_topic.invoke[count.index].id}']);
      const sub = blocks('resource', 'oci_ons_subscription').get('invoke_function')!;
      assert.equal(countOf(sub), '${var.schedule_mode == "alarm" ? var.shard_count : 0}');
      assert.equal(sub.protocol, 'ORACLE_FUNCTIONS');
      assert.equal(sub.endpoint, '${oci_functions_function.this[count.index].id}');
      assert.equal(sub.topic_id, '${oci_ons_notification_topic.invoke[count.index].id}');
    },
  );

  test("negative: the former trigger keyed on the function's own `up` (a dry run or a failed first run never starts it)", async () => {
    const f = await fixture('self_metric_trigger.tf');
    const alarm = (f.json.resource as Record<string, Record<string, HclBody[]>>).oci_monitoring_alarm.invoke_every_minute[0];
    const problems = checkEveryMinuteTrigger(alarm).join('\n');
    assert.match(problems, /namespace must be oci_faas/);
    assert.match(problems, /FunctionInvocationCount/);
    const noRepeat = { ...alarm, namespace: 'oci_faas', repeat_notification_duration: 'PT5M' };
    assert.match(checkEveryMinuteTrigger(noRepeat).join('\n'), /repeat_notification_duration must be PT1M/);
  });

  test('bootstrap: one detached invocation of this function at apply time, in every mode, so the oci_faas metric exists from the first minute', () => {
    const inv = onlyBlock('resource', 'oci_functions_invoke_function');
    assert.equal(inv.count, '${var.shard_count}', 'the bootstrap runs in every schedule mode (the alarms read the same metric), once per shard');
    assert.equal(inv.function_id, '${oci_functions_function.this[count.index].id}');
    assert.equal(inv.fn_invoke_type, 'detached', 'accepted at once: the apply does not wait for (or fail on) the first run');
    assert.equal(inv.invoke_function_body, '${local.invoke_body}');
    assert.deepEqual(
      inv.depends_on,
      ['${oci_identity_policy.function_metrics}', '${oci_identity_policy.function_config}'],
      'the first run is already allowed to post, and to read its configuration object',
    );
  });
});

describe('terraform/: alarms mean what they say', () => {
  test(
    "alarms in the function's namespace read self-metrics by their posted names and " +
      'dimensions; oci_faas alarms read documented oci_faas metrics of this function',
    () => {
      const selfNames = new Set(SELF_METRICS.map((m) => m.name));
      let selfQueries = 0;
      let faasQueries = 0;
      for (const [name, body] of blocks('resource', 'oci_monitoring_alarm')) {
        const queries = [hclText(body.query), ...((body.overrides as HclBody[] | undefined) ?? []).map((o) => hclText(o.query))].map(resolveLocals);
        if (body.namespace === 'oci_faas') {
          assert.equal(body.metric_compartment_id, '${local.resources_compartment_ocid}', `${name}: oci_faas metrics live in the function's compartment`);
          for (const q of queries) {
            assert.deepEqual(checkFaasQuery(q), [], `${name}: ${q}`);
            faasQueries++;
          }
          continue;
        }
        assert.equal(body.namespace, '${var.metrics_namespace}', `${name}: alarms read the namespace the function posts to`);
        assert.equal(body.metric_compartment_id, '${var.compartment_ocid}', `${name}: alarms read the compartment the function posts to`);
        if (name.startsWith('slo_')) continue; // derived series of the target's metrics: see the SLO test
        for (const q of queries) {
          const metric = /^([A-Za-z_][\w.$-]*)\[/.exec(q)?.[1];
          assert.ok(metric && selfNames.has(metric), `${q} reads a self-metric (${[...selfNames].join(', ')})`);
          for (const m of q.matchAll(/groupBy\(([^)]*)\)/g)) assert.equal(m[1], 'instance', `${q} groups by the instance dimension the function sets`);
          selfQueries++;
        }
      }
      const outputs = files.flatMap((f) => Object.entries((f.json.output as Record<string, HclBody[]> | undefined) ?? {}));
      const explorer = outputs.find(([name]) => name === 'metric_explorer_query')![1][0].value as Record<string, string>;
      assert.match(explorer.query, /^up\[/);
      assert.ok(selfQueries >= 2 && faasQueries >= 4, `${selfQueries} self-metric and ${faasQueries} oci_faas queries`);
    },
  );

  test("the invocations_query output reads this function's oci_faas invocations", () => {
    const outputs = files.flatMap((f) => Object.entries((f.json.output as Record<string, HclBody[]> | undefined) ?? {}));
    const value = outputs.find(([name]) => name === 'invocations_query')![1][0].value as Record<string, string>;
    assert.equal(value.namespace, 'oci_faas');
    assert.equal(value.compartment_id, '${local.resources_compartment_ocid}');
    assert.deepEqual(checkFaasQuery(resolveLocals(value.query), '${oci_functions_function.this[0].id}'), [], 'shard 0 (the only one by default)');
    assert.deepEqual(checkAlarmQuerySyntax(`${resolveLocals(value.query)} >= 0`), []);
  });

  test('every absent() names the longest absence-detection period (72h), never the 2-hour default', () => {
    for (const [name, body] of blocks('resource', 'oci_monitoring_alarm')) {
      for (const q of [hclText(body.query), ...((body.overrides as HclBody[] | undefined) ?? []).map((o) => hclText(o.query))]) {
        assert.deepEqual(checkAbsencePeriod(q), [], `${name}: ${q}`);
      }
    }
  });

  test('SLO alarms: the p99 of the main HTTP histogram by route, and the rate of a failure counter, above thresholds; only with the state bucket', () => {
    const alarms = blocks('resource', 'oci_monitoring_alarm');
    const p99 = alarms.get('slo_p99_latency')!;
    assert.equal(p99.query, '${var.slo_latency_histogram}_p99[1m].groupBy(route).max() > ${var.slo_p99_latency_seconds}');
    assert.equal(
      countOf(p99),
      '${var.enable_alarms && var.slo_p99_latency_seconds > 0 ? 1 : 0}',
      'created when its threshold is set; a configuration that never posts the series is refused (precondition)',
    );
    assert.equal(child(p99, 'lifecycle').precondition && (child(p99, 'lifecycle').precondition as HclBody[])[0].condition, '${local.slo_p99_posted}');
    assert.equal(p99.is_notifications_per_metric_dimension_enabled, true, 'one notification per route');
    const errors = alarms.get('slo_error_rate')!;
    assert.equal(errors.query, '${var.slo_error_counter}_rate[1m].grouping().sum() > ${var.slo_error_rate_per_second}');
    assert.equal(countOf(errors), '${var.enable_alarms && var.slo_error_rate_per_second > 0 ? 1 : 0}');
    assert.equal((child(errors, 'lifecycle').precondition as HclBody[])[0].condition, '${local.slo_rate_posted}');
    const vars = variables();
    assert.equal(vars.get('slo_latency_histogram')!.default, 'http_request_duration_seconds');
    assert.equal(vars.get('slo_error_counter')!.default, 'orders_failed_total');
    // The suffixes are the ones the function posts.
    assert.equal(quantileSuffix(0.99), 'p99');
    for (const [name, body] of alarms) {
      if (!name.startsWith('slo_')) continue;
      assert.deepEqual(checkAlarmQuerySyntax(withSloExamples(hclText(body.query))), [], `${name}: ${hclText(body.query)}`);
      assert.equal(body.namespace, '${var.metrics_namespace}');
      assert.deepEqual(body.destinations, ['${oci_ons_notification_topic.alarms[0].id}']);
    }
  });

  test("every alarm query parses as MQL (the project's parser) with a condition and a valid absent period", () => {
    let n = 0;
    for (const [name, body] of blocks('resource', 'oci_monitoring_alarm')) {
      for (const q of alarmQueries(body).map(withSloExamples)) {
        assert.deepEqual(checkAlarmQuerySyntax(q), [], `${name}: ${q}`);
        n++;
      }
    }
    assert.ok(n >= 6);
  });

  test('negative: a malformed query, no condition, absent beyond 72h', () => {
    assert.match(checkAlarmQuerySyntax('FunctionInvocationCount[1m]{resourceId = "x"}.grouping.sum() >= 0').join(), /\(/);
    assert.match(checkAlarmQuerySyntax('FunctionInvocationCount[1m].sum()').join(), /ends with a condition/);
    assert.match(checkAlarmQuerySyntax('up[1m].grouping().absent(4d)').join(), /outside 1m\.\.72h/);
  });

  test('negative: absent() with the default period, or a too short one', () => {
    assert.match(checkAbsencePeriod('up[1m].grouping().absent()').join(), /2-hour default/);
    assert.match(checkAbsencePeriod('up[1m].grouping().absent(20h)').join(), /72h/);
  });

  test('target down fires per instance on up < 1', () => {
    const down = blocks('resource', 'oci_monitoring_alarm').get('target_down')!;
    assert.equal(down.query, 'up[1m].groupBy(instance).max() < 1');
    assert.equal(down.is_notifications_per_metric_dimension_enabled, true);
    assert.equal(countOf(down), '${var.enable_alarms ? 1 : 0}');
  });

  test(
    "function silent reads the platform's oci_faas metrics: every invocation failing, " +
      'or none at all, for 5 minutes (fires for a deployment that never worked)',
    () => {
      const silent = blocks('resource', 'oci_monitoring_alarm').get('function_silent')!;
      assert.deepEqual(checkFunctionSilent(silent), []);
      assert.equal(countOf(silent), '${var.enable_alarms ? var.shard_count : 0}', 'one per shard');
      const posting = blocks('resource', 'oci_monitoring_alarm').get('function_stopped_posting')!;
      assert.equal(posting.query, 'up[1m].grouping().absent(72h)');
      assert.equal(countOf(posting), '${var.enable_alarms && !var.dry_run && length(local.posting_shards) == 0 ? 1 : 0}', 'a dry run posts nothing by design');
      // With shards, one per shard on its own `up` (the self-metrics' shard dimension): a dead shard is not hidden by the live ones.
      const perShard = blocks('resource', 'oci_monitoring_alarm').get('function_stopped_posting_per_shard')!;
      assert.equal(perShard.query, 'up[1m]{shard = "${local.posting_shards[count.index]}"}.grouping().absent(72h)');
      assert.equal(countOf(perShard), '${var.enable_alarms && !var.dry_run ? length(local.posting_shards) : 0}');
      for (const key of ['namespace', 'metric_compartment_id', 'resource_group', 'pending_duration', 'severity', 'destinations'])
        assert.deepEqual(perShard[key], posting[key], key);
    },
  );

  test('negative: the former "function silent" (own `up` absent, 2-hour default) never fires for a deployment that never posted', async () => {
    const f = await fixture('self_metric_trigger.tf');
    const silent = (f.json.resource as Record<string, Record<string, HclBody[]>>).oci_monitoring_alarm.function_silent[0];
    const problems = checkFunctionSilent(silent).join('\n');
    assert.match(problems, /oci_faas/);
    assert.match(problems, /FunctionResponseCount/);
  });
});

describe('terraform/: IAM grants exactly what the function needs', () => {
  test('every policy statement passes the least-privilege audit', () => {
    assertNoFindings(checkPolicies(files));
  });

  test("every condition variable is one OCI's policy reference lists for the statement's resource family", () => {
    const statements = policyStatements(files).flatMap((p) => p.statements);
    assert.ok(statements.length >= 4);
    for (const st of statements) assert.deepEqual(auditConditionVariables(st), [], st);
    const used = statements.flatMap((st) => parsePolicyStatement(st)!.conditions.map((c) => c.variable));
    assert.ok(used.includes('request.principal.type') && used.includes('target.metrics.namespace'), 'the check saw the conditions');
  });

  test('the allowed-variables list: one entry per family, each with its source, no duplicates', () => {
    const { general, families, byPrincipalType } = POLICY_CONDITION_VARIABLES;
    assert.equal(new Set(general).size, general.length);
    const types = families.flatMap((f) => [f.family, ...f.resourceTypes]);
    assert.equal(new Set(types).size, types.length, 'a resource type belongs to one family');
    for (const f of families) assert.ok(f.source.length > 10 && f.variables.every((v) => !general.includes(v)), f.family);
    for (const [type, entry] of Object.entries(byPrincipalType)) assert.ok(entry.source.includes(type), type);
    assert.deepEqual(families.find((f) => f.family === 'functions-family')!.variables, [], 'Functions documents no variables of its own');
  });

  test('negative: target.function.id (not in the Functions policy reference) and an unlisted resource type', async () => {
    const findings = checkPolicies([await fixture('undocumented_condition.tf')]);
    const lines = findings.map(formatFinding);
    assert.equal(findingsOf(findings, 'policy', 'condition variable target.function.id is not one').length, 1, lines.join('\n'));
    assert.equal(findingsOf(findings, 'policy', 'resource type "instances" is not in POLICY_CONDITION_VARIABLES').length, 1, lines.join('\n'));
    assert.equal(
      findingsOf(findings, 'policy', 'condition variable request.principal.id').length,
      1,
      'request.principal.id only for the documented principal type',
    );
    assert.deepEqual(
      auditConditionVariables("Allow group g to use metrics in compartment id c where target.resource.tag.ops.team = 'sre'"),
      [],
      'tag variables below a documented tag variable',
    );
    assert.deepEqual(
      auditConditionVariables(
        "Allow dynamic-group d to manage objects in compartment id c where all {target.bucket.name = 'b', target.bucket.tag.ops.team = 'sre'}",
      ),
      [],
    );
  });

  test('the state bucket: private, created only with state_bucket, its namespace passed to the function, objects of that bucket only', () => {
    const bucket = onlyBlock('resource', 'oci_objectstorage_bucket');
    assert.equal(bucket.access_type, 'NoPublicAccess');
    assert.equal(bucket.name, '${var.state_bucket}');
    assert.equal(bucket.namespace, '${local.object_storage_namespace}');
    assert.equal(countOf(bucket), '${local.state_enabled ? 1 : 0}');
    assert.equal(locals().get('state_enabled'), '${var.state_bucket != ""}');
    assert.match(
      hclText(locals().get('object_storage_namespace')),
      /var\.object_storage_namespace != "" \? var\.object_storage_namespace : .*data\.oci_objectstorage_namespace\.this\[0\]\.namespace/,
    );
    assert.equal(
      (locals().get('function_settings') as Record<string, string>).OBJECT_STORAGE_NAMESPACE,
      '${local.object_storage_namespace}',
      'the function makes no GetNamespace call',
    );
    const state = policyStatements(files).find((p) => p.address === 'oci_identity_policy.function_state')!;
    assert.equal(countOf(state.body), '${local.state_enabled ? 1 : 0}');
    assert.deepEqual(
      state.statements.map((st) => parsePolicyStatement(st)!.conditions.map((c) => `${c.variable}=${c.value}`)),
      [['target.bucket.name=<expr>'], ['target.bucket.name=<expr>', 'request.permission=OBJECT_CREATE']],
    );
    for (const st of state.statements) assert.match(st, /target\.bucket\.name = '\$\{var\.state_bucket\}'/);
    for (const st of state.statements) assert.match(st, /in compartment id \$\{var\.compartment_ocid\} /, "the bucket's compartment");
  });

  test('negative: manage objects beyond OBJECT_CREATE, or objects of any bucket', async () => {
    const findings = checkPolicies([await fixture('broad_state_policy.tf')]);
    const lines = findings.map(formatFinding);
    assert.equal(findingsOf(findings, 'policy', "grants manage beyond request.permission = 'OBJECT_CREATE'").length, 2, lines.join('\n'));
    assert.equal(findingsOf(findings, 'policy', 'use objects lacks the condition target.bucket.name').length, 1, lines.join('\n'));
    assert.equal(findingsOf(findings, 'policy', 'manage objects lacks the condition request.permission').length, 1, lines.join('\n'));
  });

  test(
    'the statements are exactly: use metrics (namespace), read secret-bundles (one secret), ' +
      "the state bucket's objects, the configuration object's bucket, the schedule may invoke, discovery reads instances",
    () => {
      const kinds = policyStatements(files).flatMap((p) =>
        p.statements.map((s) => {
          const parsed = parsePolicyStatement(s)!;
          return `${p.address}: ${parsed.subject.split(' ')[0]} ${parsed.verb} ${parsed.resource}`;
        }),
      );
      assert.deepEqual(kinds.sort(), [
        'oci_identity_policy.function_config: dynamic-group read objects',
        'oci_identity_policy.function_discovery: dynamic-group read instances',
        'oci_identity_policy.function_discovery: dynamic-group read vnic-attachments',
        'oci_identity_policy.function_discovery: dynamic-group read vnics',
        'oci_identity_policy.function_discovery_compartments: dynamic-group inspect compartments',
        'oci_identity_policy.function_metrics: dynamic-group use metrics',
        'oci_identity_policy.function_secret: dynamic-group read secret-bundles',
        'oci_identity_policy.function_state: dynamic-group manage objects',
        'oci_identity_policy.function_state: dynamic-group use objects',
        'oci_identity_policy.schedule_invoke: any-user manage functions-family',
      ]);
    },
  );

  test("the IAM statements the function suggests (src/oci/iam.ts, one table) grant what Terraform's dynamic-group statements grant", () => {
    const terraform = policyStatements(files)
      .flatMap((p) => p.statements.map((s) => parsePolicyStatement(s)!))
      .filter((g) => g.subject.startsWith('dynamic-group '))
      .map((g) => `${g.verb} ${g.resource}`);
    assert.deepEqual([...new Set(Object.values(IAM_GRANTS))].sort(), [...new Set(terraform)].sort());
    // The function is told the name of the dynamic group Terraform creates.
    assert.equal(onlyBlock('resource', 'oci_identity_dynamic_group').name, '${local.function_dynamic_group}');
    assert.equal((locals().get('function_settings') as Record<string, string>).FUNCTION_DYNAMIC_GROUP, '${local.function_dynamic_group}');
    const named = hclText(locals().get('function_dynamic_group'));
    assert.match(named, /var\.function_dynamic_group != "" \? var\.function_dynamic_group : "\$\{var\.name_prefix\}-function"/);
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
    assert.equal(locals().get('secret_configured'), '${var.enable_scrape_bearer_token_secret}', 'a bool known at plan time, not the OCID');
    const invoke = byAddress.get('oci_identity_policy.schedule_invoke')!;
    assert.equal(countOf(invoke.body), '${local.schedule_enabled ? var.shard_count : 0}');
    assert.equal(invoke.statements.length, 1);
    for (const s of invoke.statements) {
      assert.match(
        s,
        /^Allow any-user to manage functions-family in compartment id \$\{local\.resources_compartment_ocid\} where all /,
        "Oracle's documented verb",
      );
      assert.match(s, /request\.principal\.type = 'resourceschedule'/);
      assert.match(s, /request\.principal\.id = '\$\{oci_resource_scheduler_schedule\.invoke\[count\.index\]\.id\}'/);
    }
  });

  test('the dynamic group matches this function only (resource.type fnfunc and its OCID), or each shard function by its OCID', () => {
    const dg = onlyBlock('resource', 'oci_identity_dynamic_group');
    // One function: exactly the rule of earlier versions; shards: ANY of their OCIDs (a rule cannot nest ALL in ANY).
    const one = "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.this[0].id}'}";
    const shards = 'ANY {${join(", ", [for f in oci_functions_function.this : "resource.id = \'${f.id}\'"])}}';
    assert.equal(
      dg.matching_rule,
      `\${var.shard_count == 1 ? "${one.replace('${', '$${')}" : "${shards.replace('${join', '$${join').replace("'${f.id}'", "'$${f.id}'")}"}`,
    );
    for (const rule of [one.replace(/\$\{[^}]*\}/, 'x'), "ANY {resource.id = 'a', resource.id = 'b'}"])
      assert.deepEqual(auditMatchingRule(rule), [], `documented matching-rule variables only: ${rule}`);
    assert.match(auditMatchingRule("ALL {resource.type = 'fnfunc', resource.function.id = 'x'}").join(), /resource\.function\.id is not documented/);
    assert.equal(dg.compartment_id, '${var.tenancy_ocid}', 'dynamic groups live in the tenancy');
    for (const p of policyStatements(files).filter((x) => x.address !== 'oci_identity_policy.schedule_invoke')) {
      for (const s of p.statements) assert.match(s, /^Allow dynamic-group \$\{oci_identity_dynamic_group\.function\.name\} to /);
    }
  });

  test('auditPolicyStatement accepts the allowed shapes and rejects broader ones', () => {
    const ok = [
      "Allow dynamic-group fn to use metrics in compartment id ocid1.compartment.oc1..aaa where target.metrics.namespace = 'bharatmart'",
      "Allow dynamic-group fn to read secret-bundles in compartment id ocid1.compartment.oc1..aaa where target.secret.id = 'ocid1.vaultsecret.oc1.x.y'",
      'Allow any-user to manage functions-family in compartment id ocid1.compartment.oc1..aaa where all ' +
        "{request.principal.type = 'resourceschedule', request.principal.id = 'ocid1.resourceschedule.oc1.x.y'}",
    ];
    for (const s of ok) assert.deepEqual(auditPolicyStatement(s), [], s);
    const bad: [string, RegExp][] = [
      ['Allow dynamic-group fn to manage all-resources in tenancy', /grants manage/],
      ['Allow dynamic-group fn to manage all-resources in tenancy', /all-resources/],
      ["Allow dynamic-group fn to use metrics in tenancy where target.metrics.namespace = 'x'", /expected one compartment/],
      ['Allow dynamic-group fn to use metrics in compartment id ocid1.compartment.oc1..aaa', /lacks the condition target\.metrics\.namespace/],
      ['Allow dynamic-group fn to read secret-bundles in compartment id ocid1.compartment.oc1..aaa', /lacks the condition target\.secret\.id/],
      ['Allow dynamic-group fn to read secret-family in compartment id ocid1.compartment.oc1..aaa', /whole family/],
      ['Allow any-user to manage functions-family in compartment id ocid1.compartment.oc1..aaa', /grants manage/],
      ['Allow any-user to manage functions-family in compartment id ocid1.compartment.oc1..aaa', /lacks the condition request\.principal\.type/],
      [
        "Allow any-user to manage functions-family in compartment id c where any {request.principal.type = 'resourceschedule', request.principal.id = 'x'}",
        /widens/,
      ],
      [
        "Allow any-user to manage functions-family in compartment id c where any {request.principal.type = 'resourceschedule', request.principal.id = 'x'}",
        /grants manage/,
      ],
      [
        "Allow any-user to manage functions-family in compartment id c where all {request.principal.type = 'fnfunc', request.principal.id = 'x'}",
        /must be 'resourceschedule'/,
      ],
      [
        "Allow dynamic-group fn to manage functions-family in compartment id c where all {request.principal.type = 'resourceschedule', " +
          "request.principal.id = 'x'}",
        /subject/,
      ],
      [
        "Allow any-user to use fn-invocation in compartment id c where all {request.principal.type = 'resourceschedule', request.principal.id = 'x'}",
        /not one of the allowed grants/,
      ],
      ["Allow group Admins to use metrics in compartment id c where target.metrics.namespace = 'x'", /subject "group Admins"/],
      ['Allow dynamic-group fn to {METRIC_INSPECT} in compartment id c', /raw permission list|cannot parse/],
      ['Allow dynamic-group fn to use virtual-network-family in compartment id c', /not one of the allowed grants/],
      ['Give everything to everyone', /cannot parse/],
    ];
    for (const [s, re] of bad)
      assert.ok(
        auditPolicyStatement(s).some((p) => re.test(p)),
        `${s} -> ${JSON.stringify(auditPolicyStatement(s))}`,
      );
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
      // The namespace is the variable when given, else read by Terraform (see the state bucket test).
      if (spec.key === 'OBJECT_STORAGE_NAMESPACE' && value === '${local.object_storage_namespace}') continue;
      // The dynamic group's name is the variable when given, else the one Terraform gives the group it creates.
      if (spec.key === 'FUNCTION_DYNAMIC_GROUP' && value === '${local.function_dynamic_group}') continue;
      // The uploaded file's object (config.tf) when scrape_config_file is set, else the variable.
      if (spec.key === 'SCRAPE_CONFIG_OBJECT' && value === '${local.scrape_config_object}') continue;
      assert.ok(value === `\${var.${name}}` || value === `\${tostring(var.${name})}`, `function_settings.${spec.key} must be fed by var.${name}, got ${value}`);
      if (spec.required === 'unless-dry-run') {
        assert.equal('default' in v, false, `${name} is required by the function, so it has no default`);
      } else {
        const tfDefault = v.default;
        assert.equal(
          tfDefault === undefined || tfDefault === null ? undefined : hclText(tfDefault),
          spec.default ?? '',
          `${name}: default must equal SETTING_SPECS (${spec.default ?? 'none = ""'})`,
        );
      }
    }
  });

  test('only variables of the function settings feed the application config, and empty values are dropped', () => {
    const specNames = new Set(SETTING_SPECS.map((s) => s.key.toLowerCase()));
    const settingsMap = locals().get('function_settings') as Record<string, string>;
    for (const [key, rawValue] of Object.entries(settingsMap)) {
      const value = rawValue.startsWith('${local.') ? hclText(locals().get(rawValue.slice('${local.'.length, -1))) : rawValue;
      const refs = [...new Set(interpolations(value).flatMap((e) => [...e.matchAll(/var\.([a-z_0-9]+)/g)].map((m) => m[1])))].filter(
        // The namespace is read only with a state bucket; the dynamic group's default name is made of the name prefix;
        // the uploaded configuration's object is named by its file's variables (config.tf).
        (r) =>
          (r !== 'state_bucket' || key === 'STATE_BUCKET') &&
          !(r === 'name_prefix' && key === 'FUNCTION_DYNAMIC_GROUP') &&
          !(key === 'SCRAPE_CONFIG_OBJECT' && ['scrape_config_file', 'scrape_config_bucket', 'scrape_config_object_name'].includes(r)),
      );
      assert.deepEqual(refs, [key.toLowerCase()], `${key} reads only its own variable`);
      assert.ok(specNames.has(refs[0]));
    }
    assert.equal(locals().get('application_config'), '${{ for k, v in local.function_settings : k => v if v != "" }}');
    const app = onlyBlock('resource', 'oci_functions_application');
    assert.equal(app.config, '${local.application_config}');
    const fn = onlyBlock('resource', 'oci_functions_function');
    assert.equal(fn.config, '${local.shard_config[count.index]}', "the function's own config is only its SHARD (null with one function)");
    assert.equal(locals().get('shard_config'), '${[for i in local.shards : var.shard_count > 1 ? { SHARD = "${i}/${var.shard_count}" } : null]}');
  });

  test("each setting variable's description is its row's (KEY: description.), with at most a Terraform note after it", () => {
    const vars = variables();
    assert.deepEqual(
      descriptionProblems((name) => hclText(vars.get(name)?.description)),
      [],
    );
  });

  test('negative: a description that drifts from its row is named', () => {
    const drifted = (name: string) => (name === 'scrape_max_bytes' ? 'SCRAPE_MAX_BYTES: the 256 MB function holds about 100k samples, ~14 MB.' : '');
    assert.match(
      descriptionProblems(drifted).join('\n'),
      /scrape_max_bytes: description "SCRAPE_MAX_BYTES: the 256 MB function holds about 100k samples, ~14 MB\." must start/,
    );
  });

  test("each numeric setting variable validates exactly its parser's range (evaluated by terraform)", (t) => {
    const vars = variables();
    const bounded = SETTING_SPECS.filter((s) => s.bounds !== undefined);
    assert.ok(bounded.length >= 10, 'the numeric settings carry their bounds');
    for (const s of bounded) assert.ok(Array.isArray(vars.get(s.key.toLowerCase())?.validation), `${s.key.toLowerCase()} has a validation block`);
    if (!existsSync(TERRAFORM)) {
      t.skip(`${TERRAFORM} not found: the ranges are only checked to have a validation`);
      return;
    }
    const checks = bounded.map((s) => {
      const v = vars.get(s.key.toLowerCase())!;
      return { name: s.key.toLowerCase(), bounds: s.bounds!, condition: conditionExpression(child(v, 'validation').condition), quoted: v.type === '${string}' };
    });
    assert.deepEqual(rangeProblems(checks), []);
  });

  test('negative: a validation without the whole-number check, or one past the bound, is named', (t) => {
    if (!existsSync(TERRAFORM)) {
      t.skip(`${TERRAFORM} not found`);
      return;
    }
    const bounds = SETTING_SPECS.find((s) => s.key === 'DISCOVERY_PORT')!.bounds!;
    const problems = rangeProblems([
      { name: 'discovery_port', bounds, condition: 'var.discovery_port >= 1 && var.discovery_port <= 65535', quoted: false },
      {
        name: 'discovery_port',
        bounds,
        condition: 'floor(var.discovery_port) == var.discovery_port && var.discovery_port >= 1 && var.discovery_port <= 65536',
        quoted: false,
      },
    ]).join('\n');
    assert.match(problems, /discovery_port: Terraform accepts 1\.5, the function refuses it/);
    assert.match(problems, /discovery_port: Terraform accepts 65536, the function refuses it/);
  });

  test('variables that the function validates carry a Terraform validation too', () => {
    const vars = variables();
    for (const name of [
      'metrics_endpoint',
      'compartment_ocid',
      'metrics_namespace',
      'resource_group',
      'extra_dimensions',
      'scrape_bearer_token_secret_ocid',
      'scrape_timeout_ms',
      'scrape_max_bytes',
      'secret_cache_ttl_seconds',
      'post_calls_per_second',
      'post_concurrency',
      'post_timeout_ms',
      'function_timeout_seconds',
      'oci_monitoring_endpoint',
      'oci_secrets_endpoint',
    ]) {
      assert.ok(Array.isArray(vars.get(name)!.validation), `${name} has a validation block`);
    }
    const ns = hclText(child(vars.get('metrics_namespace')!, 'validation').condition);
    assert.match(ns, /\^\[A-Za-z\]\[A-Za-z0-9_\]\*\$/);
    assert.match(ns, /oci_\|oracle_/, 'the reserved prefixes are rejected');
  });

  test('the Terraform validation regexes agree with the function on sample values', () => {
    // The same patterns, evaluated with JS (RE2 and JS agree on these simple classes).
    const vars = variables();
    const pattern = (name: string, index = 0) => {
      const cond = hclText(child(vars.get(name)!, 'validation').condition);
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
    const tfReserved = /!contains\(\[([^\]]*)\]/.exec(hclText(child(vars.get('extra_dimensions')!, 'validation').condition));
    assert.ok(tfReserved, 'extra_dimensions rejects the reserved names');
    assert.deepEqual(
      [...tfReserved[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]),
      reservedNames,
      'the dimensions prom2oci sets itself are rejected',
    );
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
    assert.equal(fn.display_name, '${local.function_names[count.index]}', 'shard 0 keeps var.function_name (func.yaml), the others add -<i>');
    assert.equal(fn.memory_in_mbs, '${tostring(var.memory_in_mbs)}');
    assert.equal(fn.timeout_in_seconds, '${var.timeout_in_seconds}');
    assert.equal(fn.detached_mode_timeout_in_seconds, '${var.detached_mode_timeout_in_seconds}');
    const vars = variables();
    assert.ok(Number(vars.get('function_timeout_seconds')!.default) <= Number(vars.get('timeout_in_seconds')!.default));
  });
});

/** The condition of a validation as a plain HCL expression (hcl2json writes `${expr}`). */
function conditionExpression(v: HclValue): string {
  const text = hclText(v);
  const inner = interpolations(text);
  return inner.length === 1 && text === `\${${inner[0]}}` ? inner[0] : text;
}

/** Evaluates `expr` with `terraform console` in an empty configuration; the JSON result. */
function terraformConsole(expr: string): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'prom2oci-tf-'));
  try {
    const r = terraform(dir, ['console'], {}, `jsonencode(${expr})\n`);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(JSON.parse(r.stdout.trim()) as string);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Problems of the setting variables' descriptions (by variable name): each starts `KEY: <the row's description>.`. */
function descriptionProblems(descriptionOf: (name: string) => string): string[] {
  return SETTING_SPECS.flatMap((spec) => {
    const name = spec.key.toLowerCase();
    const text = descriptionOf(name);
    const want = `${spec.key}: ${spec.description}.`;
    return text === want || text.startsWith(`${want} `) ? [] : [`${name}: description "${text}" must start with "${want}"`];
  });
}

type Bounds = NonNullable<(typeof SETTING_SPECS)[number]['bounds']>;

/**
 * Problems of Terraform validations against the function's ranges, evaluated by terraform in one
 * call: each bound passes, one beyond it fails, and a fraction fails for a whole number (passes for
 * a decimal). `quoted`: the variable is a string (empty = unset), so the probes are strings.
 */
function rangeProblems(checks: { name: string; bounds: Bounds; condition: string; quoted: boolean }[]): string[] {
  const probes = checks.flatMap((c) => {
    const { min, max, whole } = c.bounds;
    const values: [number, boolean][] = [
      [min, true],
      [max, true],
      [min - 1, false],
      [max + 1, false],
      [min + 0.5, !whole],
    ];
    return values.map(([value, accepted]) => ({ c, value, accepted }));
  });
  const expressions = probes.map(({ c, value }) => c.condition.replace(new RegExp(`\\bvar\\.${c.name}\\b`, 'g'), c.quoted ? `"${value}"` : String(value)));
  const results = terraformConsole(`[${expressions.join(', ')}]`) as boolean[];
  return probes.flatMap(({ c, value, accepted }, i) =>
    results[i] === accepted ? [] : [`${c.name}: Terraform ${results[i] ? 'accepts' : 'refuses'} ${value}, the function ${accepted ? 'accepts' : 'refuses'} it`],
  );
}

/** IPv4 address -> number, and CIDR membership, to judge the example values. */
function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(ipv4Number(net) / size) * size;
  return ipv4Number(ip) >= first && ipv4Number(ip) < first + size;
}
const PRIVATE_CIDRS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/** Problems of a tfvars example whose private IPv4 targets lie outside vcn_cidr without a subnet_id. */
function checkExampleReachable(example: HclBody, defaultVcnCidr: string): string[] {
  const vcn = hclText(example.vcn_cidr ?? defaultVcnCidr);
  const targets = hclText(example.metrics_endpoint ?? '')
    .split(',')
    .map((u) => /^[a-z]+:\/\/(?:[^/@]*@)?(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?(?:[/?#]|$)/i.exec(u.trim())?.[1])
    .filter((x): x is string => x !== undefined);
  const unreachable = targets.filter((ip) => PRIVATE_CIDRS.some((c) => inCidr(ip, c)) && !inCidr(ip, vcn));
  return unreachable.length > 0 && !example.subnet_id
    ? [`the example target(s) ${unreachable.join(', ')} are private and outside vcn_cidr ${vcn}, and the example sets no subnet_id: the quick start would fail`]
    : [];
}

describe('terraform/: the network reaches the targets, or apply refuses with the variable to set', () => {
  test('the new subnet refuses private targets outside vcn_cidr (set subnet_id) and public targets without NAT (enable_nat_gateway)', () => {
    const subnet = blocks('resource', 'oci_core_subnet').get('functions')!;
    assert.equal(countOf(subnet), '${local.create_network ? 1 : 0}', 'only a new network is judged; with subnet_id the user chose the route');
    const pre = child(subnet, 'lifecycle').precondition as HclBody[];
    const private_ = pre.find((p) => hclText(p.condition).includes('local.private_targets_outside_vcn'));
    assert.ok(private_, 'a precondition on private targets outside vcn_cidr');
    assert.equal(private_.condition, '${length(local.private_targets_outside_vcn) == 0}');
    assert.match(hclText(private_.error_message), /Set create_network = false and subnet_id/);
    const public_ = pre.find((p) => hclText(p.condition).includes('local.public_targets'));
    assert.ok(public_, 'a precondition on public targets without a NAT gateway');
    assert.equal(public_.condition, '${var.enable_nat_gateway || length(local.public_targets) == 0}');
    assert.match(hclText(public_.error_message), /enable_nat_gateway = true/);
  });

  test('terraform.tfvars.example works as written: its private target comes with a subnet_id', async () => {
    const example = await parseTfFile('terraform/terraform.tfvars.example', readFileSync(join(TF_DIR, 'terraform.tfvars.example'), 'utf8'));
    assert.deepEqual(checkExampleReachable(example.json, hclText(variables().get('vcn_cidr')!.default)), []);
  });

  test('negative: the former example (10.0.0.5 and a new 10.80.0.0/16 VCN, no subnet_id)', () => {
    assert.match(
      checkExampleReachable({ metrics_endpoint: 'http://10.0.0.5:3000/metrics' }, '10.80.0.0/16').join(),
      /10\.0\.0\.5 are private and outside vcn_cidr 10\.80\.0\.0\/16/,
    );
    assert.deepEqual(checkExampleReachable({ metrics_endpoint: 'http://10.80.0.5:3000/metrics' }, '10.80.0.0/16'), []);
  });
});

describe('terraform/terraform.tfvars.example', () => {
  test('sets every variable without a default, and only declared variables', async () => {
    const example = await parseTfFile('terraform/terraform.tfvars.example', readFileSync(join(TF_DIR, 'terraform.tfvars.example'), 'utf8'));
    const vars = variables();
    const required = [...vars.entries()]
      .filter(([, v]) => !('default' in v))
      .map(([k]) => k)
      .sort();
    const set = Object.keys(example.json);
    assert.deepEqual(
      required.filter((k) => !set.includes(k)),
      [],
      'required variables missing from the example',
    );
    assert.deepEqual(
      set.filter((k) => !vars.has(k)),
      [],
      'example sets undeclared variables',
    );
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
      'fixtures/terraform/bad_enum.tf:12: [invalid-enum] oci_resource_scheduler_schedule.broken.resources[0].parameters[0].parameter_type: "PAYLOAD" ' +
        'is not one of BODY, HEADER, PATH, QUERY',
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
    assert.ok(
      findings.every((f) => f.line === 7 || f.line === 8),
      lines.join('\n'),
    );
  });

  test('a computed-only attribute, too many blocks, an unknown timeout', async () => {
    const findings = checkSchema([await fixture('computed_and_max_items.tf')], schema);
    assert.deepEqual(sortFindings(findings).map(formatFinding), [
      'fixtures/terraform/computed_and_max_items.tf:7: [computed-only] oci_functions_application.broken.state: "state" is computed by the provider and ' +
        'cannot be set',
      'fixtures/terraform/computed_and_max_items.tf:13: [max-items] oci_functions_application.broken.trace_config: at most 1 "trace_config" block(s) ' +
        'allowed, found 2',
      'fixtures/terraform/computed_and_max_items.tf:19: [timeouts] oci_functions_application.broken.timeouts: "read" is not a timeout of this resource ' +
        '(create, update, delete)',
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
      'mixed.tf:15: [unknown-argument] oci_core_security_list.b.egress_security_rules.content.protocl: unknown argument or block "protocl" (did you ' +
        'mean "protocol"?)',
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

describe('terraform/: discovery (read-only grants in the scanned compartment, ports, the instance-pool example)', () => {
  test('the discovery policies exist only with discovery_compartment_ocid, name only that compartment, and grant the calls discovery makes', () => {
    const p = blocks('resource', 'oci_identity_policy').get('function_discovery')!;
    assert.equal(countOf(p), '${var.enable_discovery ? 1 : 0}');
    const statements = p.statements as string[];
    const grants = statements.map((s) => parsePolicyStatement(s)!);
    assert.deepEqual(
      grants.map((g) => `${g.verb} ${g.resource}`),
      ['read instances', 'read vnic-attachments', 'read vnics'],
    );
    assert.ok(grants.every((g) => g.location === 'compartment id <expr>' && /\$\{var\.discovery_compartment_ocid\}$/.test(statements[0])));
    const sub = blocks('resource', 'oci_identity_policy').get('function_discovery_compartments')!;
    assert.equal(countOf(sub), '${var.enable_discovery && var.discovery_include_subcompartments ? 1 : 0}');
    // The grants the function names when a call is refused are these very statements.
    const granted = [...statements, ...(sub.statements as string[])].map((s) => {
      const g = parsePolicyStatement(s)!;
      return `${g.verb} ${g.resource}`;
    });
    assert.deepEqual(DISCOVERY_OPERATIONS.map((op) => IAM_GRANTS[op]).sort(), granted.sort());
    for (const bad of [
      'Allow dynamic-group fn to read instance-family in compartment id c',
      'Allow dynamic-group fn to read instances in tenancy',
      'Allow dynamic-group fn to manage instances in compartment id c',
    ]) {
      assert.ok(auditPolicyStatement(bad).length > 0, bad);
    }
  });

  test('the new subnet may reach the discovered ports: discovery_port plus discovery_scrape_ports, only with discovery', () => {
    const l = locals();
    assert.equal(l.get('discovery_ports'), '${local.discovery_enabled ? distinct(concat([var.discovery_port], var.discovery_scrape_ports)) : []}');
    assert.match(hclText(l.get('target_egress')), /local\.discovery_cidrs[\s\S]*local\.discovery_ports/);
    const fn = blocks('resource', 'oci_functions_application').get('this')!;
    const pre = child(fn, 'lifecycle').precondition as HclBody[];
    assert.ok(
      pre.some(
        (p) => p.condition === '${trimspace(var.metrics_endpoint) != "" || var.enable_discovery || var.scrape_config != "" || local.config_object_enabled}',
      ),
      'nothing to scrape is refused at plan time',
    );
  });

  test('examples/instance-pool: parses, known blocks match the schema, launched instances carry the discovery tag and the opened ports', async () => {
    const dir = join(TF_DIR, 'examples', 'instance-pool');
    const example = await parseTfFile('terraform/examples/instance-pool/main.tf', readFileSync(join(dir, 'main.tf'), 'utf8'));
    // oci_core_instance_configuration and oci_core_instance_pool are not in the schema fixture: only the others are checked here.
    const known = checkSchema([example], schema).filter((f) => !/type "oci_core_instance_(configuration|pool)" is not in/.test(f.message));
    assertNoFindings(known);
    const module_ = (example.json.module as Record<string, HclBody[]>).prom2oci[0];
    const vars = variables();
    for (const k of Object.keys(module_)) if (k !== 'source') assert.ok(vars.has(k), `the example sets module variable ${k}, which exists`);
    for (const [k, v] of vars) if (!('default' in v)) assert.ok(k in module_, `the example sets required variable ${k}`);
    const config = (example.json.resource as Record<string, Record<string, HclBody[]>>).oci_core_instance_configuration.bharatmart[0];
    const launch = child(child(config, 'instance_details'), 'launch_details');
    const tags = launch.freeform_tags as Record<string, string>;
    assert.equal(`${Object.keys(tags)[0]}=${Object.values(tags)[0]}`, module_.discovery_tag, 'the pool tags its instances with the discovery filter');
    assert.equal(Object.keys(tags)[1], hclText(vars.get('discovery_port_tag')!.default), 'the port tag is the one discovery reads');
    assert.equal(module_.discovery_scrape_ports, '${local.exporter_ports}');
  });
});
