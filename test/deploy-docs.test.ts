/**
 * The deploy documentation, checked against the code it describes: the README's deploy steps run
 * top to bottom on a fresh tenancy (every shell name is set before it is used, the image is pushed
 * before `terraform apply`, `fn` commands come after the application exists), the first image is
 * built for the application shape's platform, and terraform/README.md lists an operator permission
 * for everything the steps and the Terraform module create or read. Negative fixtures (the former
 * texts) prove each check fails when the defect returns.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parsePolicyStatement, parseTfFile, policyStatements, type HclBody, type TfFile } from './helpers/tflint';

const ROOT = path.join(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'docs');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The text of a markdown section: from its heading to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  assert.ok(start >= 0, `section "${heading}" exists`);
  const level = /^#+/.exec(heading)![0].length;
  let inCode = false;
  const end = lines.findIndex((l, i) => {
    if (l.trim().startsWith('```')) inCode = !inCode;
    return i > start && !inCode && /^#+ /.test(l) && /^#+/.exec(l)![0].length <= level;
  });
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** The shell lines of every ```sh block of a markdown text, in order (indentation removed). */
function shellLines(markdown: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const raw of markdown.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('```')) {
      inBlock = !inBlock && line === '```sh';
      continue;
    }
    if (inBlock) out.push(line);
  }
  return out;
}

/** A line without its trailing `# comment` (quotes are not tracked: the deploy commands have no # in strings). */
const command = (line: string) => line.replace(/(^|\s)#.*$/, '').trim();

/** Problems of a deploy section's commands: names before use, order of the steps, the build platform. */
function checkDeploySteps(markdown: string): string[] {
  const lines = shellLines(markdown);
  const problems: string[] = [];
  const assigned = new Set<string>();
  lines.forEach((line, i) => {
    const cmd = command(line);
    for (const m of cmd.matchAll(/\$\{?([A-Z][A-Z0-9_]*)\}?/g)) {
      if (!assigned.has(m[1])) problems.push(`line ${i + 1} uses $${m[1]} before any step sets it: ${line}`);
    }
    for (const m of cmd.matchAll(/(?:^|[\s;(])([A-Z][A-Z0-9_]*)=/g)) assigned.add(m[1]);
  });
  const at = (re: RegExp) => lines.findIndex((l) => re.test(command(l)));
  const push = Math.max(at(/docker (buildx )?build .*--push\b/), at(/^docker push\b/));
  const apply = at(/^terraform apply\b/);
  const fnUse = at(/^fn (deploy|invoke)\b/);
  const fnContext = at(/^fn use context\b/);
  if (push < 0) problems.push('no step pushes the first image');
  if (apply < 0) problems.push('no step runs terraform apply');
  if (push >= 0 && apply >= 0 && push > apply) problems.push('terraform apply comes before the image it needs (function_image) is pushed');
  if (fnUse >= 0 && (apply < 0 || fnUse < apply)) problems.push('an fn command on the application comes before terraform apply creates it');
  if (fnUse >= 0 && (fnContext < 0 || fnContext > fnUse)) problems.push('an fn command comes before the fn context is set up');
  if (lines.some((l) => /^fn build\b/.test(command(l))))
    problems.push('`fn build` builds for the machine it runs on (no platform): name the platform with docker buildx build --platform');
  const builds = lines.filter((l) => /^docker (buildx )?build\b/.test(command(l)));
  if (builds.length === 0) problems.push('no step builds the first image');
  for (const b of builds) if (!/--platform[= ]\S+/.test(command(b))) problems.push(`the build names no platform: ${b}`);
  const text = lines.join('\n');
  for (const [shape, platform] of [
    ['GENERIC_X86', 'linux/amd64'],
    ['GENERIC_ARM', 'linux/arm64'],
  ] as const) {
    if (!new RegExp(`\\b${shape}\\b[^\\n]*${platform}`).test(text)) problems.push(`the steps do not map ${shape} to ${platform}`);
  }
  return problems;
}

/**
 * Operator grants the deployment needs, by what needs them: each Terraform resource/data type
 * (prefix) used in terraform/, and each CLI command the deploy steps run. A type with no entry
 * fails the test: add the permission its creation needs here and in terraform/README.md.
 */
const OPERATOR_GRANTS: { needs: RegExp; grants: string[] }[] = [
  { needs: /^resource oci_identity_dynamic_group$/, grants: ['manage dynamic-groups in tenancy'] },
  { needs: /^resource oci_identity_policy$/, grants: ['manage policies in tenancy'] },
  { needs: /^data oci_identity_region_subscriptions$/, grants: ['inspect tenancies in tenancy'] },
  { needs: /^resource oci_functions_/, grants: ['manage functions-family'] },
  { needs: /^resource oci_core_/, grants: ['manage virtual-network-family'] },
  { needs: /^data oci_core_services$/, grants: [] },
  { needs: /^resource oci_ons_/, grants: ['manage ons-family'] },
  { needs: /^resource oci_monitoring_alarm$/, grants: ['manage alarms', 'read metrics'] },
  { needs: /^resource oci_logging_/, grants: ['manage logging-family'] },
  { needs: /^resource oci_resource_scheduler_/, grants: ['manage resource-schedule-family'] },
  { needs: /^data oci_vault_secret$/, grants: ['read secrets'] },
  { needs: /^resource oci_objectstorage_bucket$/, grants: ['manage buckets'] },
  { needs: /^data oci_objectstorage_namespace$/, grants: ['read objectstorage-namespaces in tenancy'] },
  { needs: /^cli oci os ns get$/, grants: ['read objectstorage-namespaces in tenancy'] },
  { needs: /^cli oci artifacts container repository create$/, grants: ['manage repos'] },
  { needs: /^cli docker (buildx build|push)$/, grants: ['manage repos'] },
];

/** What the deployment uses: `resource <type>` / `data <type>` of the module, `cli <command>` of the steps. */
function deploymentNeeds(files: TfFile[], steps: string[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    for (const kind of ['resource', 'data'] as const) for (const type of Object.keys((f.json[kind] as HclBody | undefined) ?? {})) out.add(`${kind} ${type}`);
  }
  for (const line of steps) {
    const cmd = command(line);
    for (const c of ['oci os ns get', 'oci artifacts container repository create', 'docker buildx build', 'docker push'])
      if (cmd.includes(c)) out.add(`cli ${c}`);
  }
  return [...out].sort();
}

/** Problems of an operator-permission text: every grant the deployment needs is there as `to <grant>`. */
function checkOperatorPermissions(text: string, needs: string[]): string[] {
  const flat = text.replace(/`/g, '').replace(/\s+/g, ' ');
  const problems: string[] = [];
  for (const need of needs) {
    const entry = OPERATOR_GRANTS.find((g) => g.needs.test(need));
    if (!entry) {
      problems.push(`${need}: no operator permission known for it (add it to OPERATOR_GRANTS and to terraform/README.md)`);
      continue;
    }
    for (const grant of entry.grants) if (!flat.includes(`to ${grant}`)) problems.push(`${need} needs "${grant}", which the operator permissions do not list`);
  }
  return problems;
}

/** The rows `| `Allow ...` | reason |` of a markdown table: statement and reason. */
function statementRows(markdown: string): { statement: string; reason: string }[] {
  return [...markdown.matchAll(/^\| `(Allow [^`]+)` \| (.*) \|\s*$/gm)].map((m) => ({ statement: m[1], reason: m[2].trim() }));
}

/** What a statement grants, without names: subject kind, verb, resource, location kind, conditions (literal values kept). */
function statementShape(statement: string): string {
  const p = parsePolicyStatement(statement.replace(/<[^>]*>/g, '${x}'));
  if (!p) return `unparsable: ${statement}`;
  const conditions = p.conditions.map((c) => `${c.variable} ${c.operator} ${c.value === '<expr>' ? '*' : c.value}`).sort();
  const where = conditions.length ? ` where ${conditions.join(', ')}` : '';
  return `${p.subject.split(' ')[0]} ${p.verb} ${p.resource} in ${p.location.split(' ').slice(0, 2).join(' ')}${where}`;
}

/** Problems of a README IAM table against the module's policies: the same statements, each with a one-line, link-free reason. */
function checkIamTable(markdown: string, tfFiles: TfFile[]): string[] {
  const rows = statementRows(markdown);
  const documented = rows.map((r) => statementShape(r.statement)).sort();
  const granted = policyStatements(tfFiles)
    .flatMap((p) => p.statements)
    .map(statementShape)
    .sort();
  const problems: string[] = [];
  for (const g of granted) if (!documented.includes(g)) problems.push(`the module grants "${g}", which the table does not show`);
  for (const d of documented) if (!granted.includes(d)) problems.push(`the table shows "${d}", which the module does not grant`);
  for (const r of rows) if (r.reason.length < 10 || /https?:\/\//.test(r.reason)) problems.push(`"${r.statement}" needs a one-line reason without links`);
  return problems;
}

let files: TfFile[];
before(async () => {
  const dir = path.join(ROOT, 'terraform');
  files = await Promise.all(
    readdirSync(dir)
      .filter((f) => f.endsWith('.tf'))
      .map((f) => parseTfFile(`terraform/${f}`, readFileSync(path.join(dir, f), 'utf8'))),
  );
});

describe('README: the deploy steps run top to bottom on a fresh tenancy', () => {
  test('names before use, image before apply, fn after apply and context, the platform named', () => {
    assert.deepEqual(checkDeploySteps(section(read('README.md'), '## Deploy to OCI')), []);
  });

  test('the example tfvars the steps copy sets function_image and application_shape consistently with the steps', () => {
    const steps = section(read('README.md'), '## Deploy to OCI');
    assert.match(steps, /function_image \(= \$IMAGE\)/);
    assert.match(steps, /application_shape \(= \$SHAPE\)/);
  });

  test('negative: the former steps (fn build, no platform)', () => {
    const problems = checkDeploySteps(readFileSync(path.join(FIXTURES, 'old-deploy-steps.md'), 'utf8')).join('\n');
    assert.match(problems, /`fn build` builds for the machine it runs on/);
    assert.match(problems, /no step builds the first image|names no platform/);
    assert.match(problems, /do not map GENERIC_X86 to linux\/amd64/);
  });

  test('negative: a name used before it is set, and apply before the push', () => {
    const text =
      '```sh\nterraform apply\ndocker buildx build --platform linux/amd64 -t "$IMAGE" --push .   # GENERIC_X86 linux/amd64, GENERIC_ARM ' +
      'linux/arm64\nIMAGE=x\nfn use context p\nfn deploy --app a\n```\n';
    const problems = checkDeploySteps(text).join('\n');
    assert.match(problems, /uses \$IMAGE before any step sets it/);
    assert.match(problems, /terraform apply comes before the image/);
    assert.deepEqual(
      checkDeploySteps(text.replace('fn use context p\n', '').replace('fn deploy', 'fn invoke')).filter((p) => p.includes('fn context')).length,
      1,
    );
  });
});

describe('terraform/README.md: the operator permissions are complete', () => {
  test('every resource type and CLI step of the deployment has its grant listed', () => {
    const needs = deploymentNeeds(files, shellLines(section(read('README.md'), '## Deploy to OCI')));
    assert.ok(needs.includes('cli oci os ns get') && needs.includes('resource oci_functions_invoke_function'), needs.join(', '));
    assert.deepEqual(checkOperatorPermissions(section(read('terraform/README.md'), '## Operator permissions'), needs), []);
  });

  test('negative: the former list (no read objectstorage-namespaces, read repos instead of manage repos)', () => {
    const needs = deploymentNeeds(files, shellLines(section(read('README.md'), '## Deploy to OCI')));
    const problems = checkOperatorPermissions(readFileSync(path.join(FIXTURES, 'old-operator-permissions.md'), 'utf8'), needs).join('\n');
    assert.match(problems, /needs "read objectstorage-namespaces in tenancy"/);
    assert.match(problems, /needs "manage repos"/);
  });

  test('negative: a resource type nobody listed a permission for', () => {
    assert.match(checkOperatorPermissions('', ['resource oci_kms_vault']).join(), /no operator permission known/);
  });
});

describe('README and terraform/README.md: the IAM tables show exactly what the module grants', () => {
  test('README "IAM: each statement and why"', () => {
    assert.deepEqual(checkIamTable(section(read('README.md'), '### IAM: each statement and why'), files), []);
  });

  test('terraform/README.md "IAM: every statement and what it is for"', () => {
    assert.deepEqual(checkIamTable(section(read('terraform/README.md'), '## IAM: every statement and what it is for'), files), []);
  });

  test('negative: the former table (target.function.id in the schedule statement)', () => {
    const problems = checkIamTable(readFileSync(path.join(FIXTURES, 'old-iam-table.md'), 'utf8'), files).join('\n');
    assert.match(problems, /target\.function\.id = \*", which the module does not grant/);
    assert.match(
      problems,
      new RegExp(
        String.raw`the module grants "any-user use fn-invocation in compartment id where request\.principal\.id` +
          String.raw` = \*, request\.principal\.type = resourceschedule", which the table does not show`,
      ),
    );
  });
});
