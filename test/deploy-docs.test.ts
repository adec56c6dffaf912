/**
 * The deploy documentation (docs/deploy.md), checked against the code it describes: each route's
 * steps run top to bottom on a fresh tenancy (every shell name is set before it is used, each
 * numbered step has its command, the image is pushed before `terraform apply`, `fn` commands come
 * after the application and the fn context exist), the first image is built for the application
 * shape's platform, what a new user cannot know is derived by a command, the tear-down empties the
 * state bucket in order, and terraform/README.md lists an operator permission for everything the
 * steps and the Terraform module create or read. Negative fixtures (the former texts) prove each
 * check fails when the defect returns.
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

/** Problems of a route's commands: names before use, order of the steps, the build platform. */
function checkDeploySteps(markdown: string, route: 'terraform' | 'fn' = 'terraform'): string[] {
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
  const apply = at(/^terraform (-chdir=\S+ )?apply\b/);
  const fnUse = at(/^fn (deploy|invoke)\b/);
  const fnContext = at(/^fn use context\b/);
  if (route === 'terraform') {
    if (push < 0) problems.push('no step pushes the first image');
    if (apply < 0) problems.push('no step runs terraform apply');
    if (push >= 0 && apply >= 0 && push > apply) problems.push('terraform apply comes before the image it needs (function_image) is pushed');
    if (fnUse >= 0 && (apply < 0 || fnUse < apply)) problems.push('an fn command on the application comes before terraform apply creates it');
  } else {
    const app = at(/^(APP_ID=\$\()?(oci fn application create|fn create app)\b/);
    if (app < 0) problems.push('no step creates the application');
    if (fnUse >= 0 && (app < 0 || fnUse < app)) problems.push('an fn command on the application comes before the step that creates it');
  }
  if (fnUse >= 0 && (fnContext < 0 || fnContext > fnUse)) problems.push('an fn command comes before the fn context is set up');
  if (lines.some((l) => /^fn build\b/.test(command(l))))
    problems.push('`fn build` builds for the machine it runs on (no platform): name the platform with docker buildx build --platform');
  const builds = lines.filter((l) => /^docker (buildx )?build\b/.test(command(l)));
  if (builds.length === 0 && route === 'terraform') problems.push('no step builds the first image');
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

/** Problems of numbered steps (`# 3. ...` comments): each is followed by at least one command before the next. */
function checkStepsHaveCommands(markdown: string): string[] {
  const lines = shellLines(markdown);
  const problems: string[] = [];
  let step: string | undefined;
  let commands = 0;
  const close = () => {
    if (step !== undefined && commands === 0) problems.push(`step "${step}" names no command`);
  };
  for (const line of lines) {
    const m = /^#\s*([A-Z]?\d+[a-z]?\.\s.*)$/.exec(line);
    if (m) {
      close();
      step = m[1];
      commands = 0;
    } else if (command(line) !== '' && !/^(esac|;;|\))$/.test(command(line))) commands++;
  }
  close();
  if (step === undefined) problems.push('no numbered steps');
  return problems;
}

/**
 * Problems a new user with a fresh tenancy hits (issue 21, docs): what they cannot know is derived by a
 * command, the compartment is created by a step, the OCIR login is the identity-domain form with an
 * auth token, the fn context names the application's compartment, and the text says what only it can
 * (QEMU/binfmt for other platforms, fn deploy's version bump).
 */
function checkNewUserPath(markdown: string): string[] {
  const lines = shellLines(markdown).map(command);
  const problems: string[] = [];
  const assignment = (name: string) => lines.find((l) => l.startsWith(`${name}=`));
  const regionKey = assignment('REGION_KEY');
  if (!regionKey || !/\$\(oci iam region list\b/.test(regionKey)) problems.push('REGION_KEY is typed by hand: derive it with oci iam region list');
  const compartment = assignment('COMPARTMENT');
  if (!compartment || !/\$\(oci iam compartment create\b/.test(compartment)) problems.push('no step creates the compartment (oci iam compartment create)');
  const login = shellLines(markdown).find((l) => /\bdocker login\b/.test(l));
  if (!login) problems.push('no docker login step');
  else {
    if (/oracleidentitycloudservice/i.test(login)) problems.push('the docker login user is the legacy IDCS form');
    if (!lines.some((l) => /\boci iam auth-token create\b/.test(l))) problems.push('no step creates the auth token docker login needs');
  }
  const context = lines.find((l) => /^fn update context oracle\.compartment-id\b/.test(l));
  if (context && !/application_compartment_id/.test(context))
    problems.push("the fn context's compartment is not the application's (output application_compartment_id)");
  if (!/binfmt/.test(markdown)) problems.push('building for another platform needs QEMU/binfmt, and the text does not say so');
  if (!lines.filter((l) => /^fn deploy\b/.test(l)).every((l) => /--no-bump\b/.test(l)) && !/--no-bump/.test(markdown))
    problems.push('fn deploy bumps the version in func.yaml on every run: mention --no-bump');
  if (!/oci network service-gateway create\b/.test(markdown)) problems.push('the subnet_id path gives no way to add the service gateway the subnet needs');
  return problems;
}

/** Problems of a tear-down section: the function goes first, then the state bucket is emptied, then destroy (or force_destroy_state_bucket). */
function checkTeardown(markdown: string, tfFiles: TfFile[]): string[] {
  const lines = shellLines(markdown).map(command);
  const problems: string[] = [];
  const first = lines.findIndex((l) => /^terraform (-chdir=\S+ )?destroy\b.*-target=oci_functions_function\.this\b/.test(l));
  const empty = lines.findIndex((l) => /^oci os object bulk-delete\b.*--force\b/.test(l));
  const all = lines.findIndex((l) => /^terraform (-chdir=\S+ )?destroy\b/.test(l) && !/-target=/.test(l));
  if (first < 0) problems.push('the function (and the trigger with it) is not destroyed first: a run writes the state again');
  if (empty < 0) problems.push('no step empties the state bucket (oci os object bulk-delete --force): destroy fails on it');
  if (all < 0) problems.push('no final terraform destroy');
  if (first >= 0 && empty >= 0 && all >= 0 && !(first < empty && empty < all)) problems.push('the order must be: function, bulk-delete, destroy');
  const declared = tfFiles.some((f) => Boolean((f.json.resource as Record<string, Record<string, unknown>> | undefined)?.oci_functions_function?.this));
  if (!declared) problems.push('oci_functions_function.this is not a resource of the module');
  if (!/force_destroy_state_bucket/.test(markdown)) problems.push('the opt-in force_destroy_state_bucket is not mentioned');
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
  // scrape_config_file: the uploaded configuration object; another bucket's compartment is read from the bucket.
  { needs: /^resource oci_objectstorage_object$/, grants: ['manage objects'] },
  { needs: /^data oci_objectstorage_bucket$/, grants: ['read buckets'] },
  { needs: /^cli oci os ns get$/, grants: ['read objectstorage-namespaces in tenancy'] },
  { needs: /^cli oci artifacts container repository create$/, grants: ['manage repos'] },
  { needs: /^cli docker (buildx build|push)$/, grants: ['manage repos'] },
  { needs: /^cli oci iam compartment create$/, grants: ['manage compartments in tenancy'] },
  { needs: /^cli oci iam (region list|user get|auth-token create)$/, grants: [] },
  { needs: /^cli oci vault secret create-base64$/, grants: ['manage secret-family', 'use vaults', 'use keys'] },
  { needs: /^cli oci os object bulk-delete$/, grants: ['manage objects'] },
  { needs: /^cli oci network service-gateway create$/, grants: ['manage virtual-network-family'] },
  { needs: /^cli oci fn application create$/, grants: ['manage functions-family'] },
  { needs: /^cli oci iam dynamic-group create$/, grants: ['manage dynamic-groups in tenancy'] },
  { needs: /^cli oci iam policy create$/, grants: ['manage policies in tenancy'] },
  // Terraform's built-in resource: its commands (schedule activate, bulk-delete) are listed above and below.
  { needs: /^resource terraform_data$/, grants: ['manage resource-schedule-family', 'manage objects'] },
];

/** CLI commands of the steps whose permissions are checked (commented optional steps included). */
const STEP_COMMANDS = [
  'oci os ns get',
  'oci artifacts container repository create',
  'docker buildx build',
  'docker push',
  'oci iam compartment create',
  'oci iam region list',
  'oci iam user get',
  'oci iam auth-token create',
  'oci vault secret create-base64',
  'oci os object bulk-delete',
  'oci network service-gateway create',
  'oci fn application create',
  'oci iam dynamic-group create',
  'oci iam policy create',
];

/** What the deployment uses: `resource <type>` / `data <type>` of the module, `cli <command>` of the steps. */
function deploymentNeeds(files: TfFile[], steps: string[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    for (const kind of ['resource', 'data'] as const) for (const type of Object.keys((f.json[kind] as HclBody | undefined) ?? {})) out.add(`${kind} ${type}`);
  }
  for (const line of steps) for (const c of STEP_COMMANDS) if (line.includes(c)) out.add(`cli ${c}`);
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

/** docs/deploy.md, and a route of it: the shared steps plus that route's section. */
const deployDoc = () => read('docs/deploy.md');
const SHARED = '## Shared steps: compartment, names, image';
const routeA = () => `${section(deployDoc(), SHARED)}\n${section(deployDoc(), '## Route A: Terraform')}`;
const routeB = () => `${section(deployDoc(), SHARED)}\n${section(deployDoc(), '## Route B: `fn` alone')}`;
const former = () => readFileSync(path.join(FIXTURES, 'former-readme-deploy.md'), 'utf8');

describe('docs/deploy.md: each route runs top to bottom on a fresh tenancy', () => {
  test('Route A (Terraform): names before use, image before apply, fn after apply and context, the platform named', () => {
    assert.deepEqual(checkDeploySteps(routeA()), []);
  });

  test('Route B (fn alone): names before use, the application before fn deploy, the fn context first', () => {
    assert.deepEqual(checkDeploySteps(routeB(), 'fn'), []);
  });

  test('every numbered step names its command', () => {
    assert.deepEqual(checkStepsHaveCommands(routeA()), []);
    assert.deepEqual(checkStepsHaveCommands(routeB()), []);
    assert.deepEqual(checkStepsHaveCommands('```sh\n# 1. Do this\n# 2. Then that\nfn invoke a b\n```\n'), ['step "1. Do this" names no command']);
  });

  test('the tfvars the steps edit: function_image and application_shape consistent with the steps', () => {
    assert.match(routeA(), /function_image \(= \$IMAGE\)/);
    assert.match(routeA(), /application_shape \(= \$SHAPE\)/);
    assert.match(routeA(), /create_network = false and subnet_id/);
  });

  test('what a new user cannot know is derived; compartment, auth token, login, fn context, binfmt, --no-bump', () => {
    assert.deepEqual(checkNewUserPath(deployDoc()), []);
  });

  test('negative: the README deploy section as issue 21 read it', () => {
    const problems = checkNewUserPath(former()).join('\n');
    for (const re of [
      /REGION_KEY is typed by hand/,
      /no step creates the compartment/,
      /legacy IDCS form/,
      /no step creates the auth token/,
      /fn context's compartment is not the application's/,
      /QEMU\/binfmt/,
      /--no-bump/,
      /service gateway/,
    ])
      assert.match(problems, re);
  });

  test('tear down: the function first, then the bucket emptied, then destroy (or force_destroy_state_bucket)', () => {
    assert.deepEqual(checkTeardown(section(deployDoc(), '## Tear down'), files), []);
  });

  test('negative: the former one-line tear-down', () => {
    const problems = checkTeardown(section(former(), '### Tear down'), files).join('\n');
    assert.match(problems, /not destroyed first/);
    assert.match(problems, /no step empties the state bucket/);
    assert.match(problems, /force_destroy_state_bucket/);
  });

  test('negative: the former steps (fn build, no platform)', () => {
    const problems = checkDeploySteps(readFileSync(path.join(FIXTURES, 'old-deploy-steps.md'), 'utf8')).join('\n');
    assert.match(problems, /`fn build` builds for the machine it runs on/);
    assert.match(problems, /no step builds the first image|names no platform/);
    assert.match(problems, /do not map GENERIC_X86 to linux\/amd64/);
  });

  test('negative: a name used before it is set, apply before the push, fn deploy before the application', () => {
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
    assert.match(checkDeploySteps(text, 'fn').join('\n'), /no step creates the application/);
  });
});

describe('terraform/README.md: the operator permissions are complete', () => {
  test('every resource type and CLI step of the deployment has its grant listed', () => {
    const needs = deploymentNeeds(files, shellLines(deployDoc()));
    for (const n of ['cli oci os ns get', 'resource oci_functions_invoke_function', 'cli oci vault secret create-base64', 'cli oci iam compartment create'])
      assert.ok(needs.includes(n), `${n} in ${needs.join(', ')}`);
    assert.deepEqual(checkOperatorPermissions(section(read('terraform/README.md'), '## Operator permissions'), needs), []);
  });

  test('negative: the former list (no read objectstorage-namespaces, read repos instead of manage repos)', () => {
    const needs = deploymentNeeds(files, shellLines(deployDoc()));
    const problems = checkOperatorPermissions(readFileSync(path.join(FIXTURES, 'old-operator-permissions.md'), 'utf8'), needs).join('\n');
    assert.match(problems, /needs "read objectstorage-namespaces in tenancy"/);
    assert.match(problems, /needs "manage repos"/);
  });

  test('negative: a resource type nobody listed a permission for', () => {
    assert.match(checkOperatorPermissions('', ['resource oci_kms_vault']).join(), /no operator permission known/);
  });
});

describe('docs/deploy.md and terraform/README.md: the IAM tables show exactly what the module grants', () => {
  test('docs/deploy.md "IAM: each statement and why"', () => {
    assert.deepEqual(checkIamTable(section(deployDoc(), '## IAM: each statement and why'), files), []);
  });

  test('terraform/README.md states no statement count its table contradicts', () => {
    const text = read('terraform/README.md');
    const rows = statementRows(section(text, '## IAM: every statement and what it is for')).length;
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
    for (const m of text.matchAll(/exactly the (\w+) statements/g)) assert.equal(words.indexOf(m[1]), rows, m[0]);
    assert.equal(
      [...'IAM: exactly the four statements above'.matchAll(/exactly the (\w+) statements/g)].some((m) => words.indexOf(m[1]) !== rows),
      true,
      'negative: the former sentence',
    );
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
        String.raw`the module grants "any-user manage functions-family in compartment id where request\.principal\.id` +
          String.raw` = \*, request\.principal\.type = resourceschedule", which the table does not show`,
      ),
    );
  });
});
