/**
 * Offline checks of the function image's build inputs: the Dockerfile (stages, COPY, ENTRYPOINT),
 * func.yaml (the keys `fn build`/`fn deploy` read when a Dockerfile is present) and the Node flags
 * shared by the Dockerfile and the code-cache build (package.json "prom2oci.nodeFlags").
 * Each check returns problems as text (empty = fine), so negative fixtures can show it fails.
 */

/** One `FROM` stage of a Dockerfile: its name and its instructions in order. */
export interface DockerStage {
  from: string;
  name?: string;
  instructions: { keyword: string; args: string; line: number }[];
}

/** Splits a Dockerfile into stages (line continuations joined, comments dropped). */
export function parseDockerfile(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i];
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(trimmed);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const args = m[2].trim();
    if (keyword === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: f?.[1] ?? args, name: f?.[2], instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword, args, line: start + 1 });
  }
  return stages;
}

/** The exec-form argument list of an ENTRYPOINT/CMD, or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? parsed : undefined;
}

/** The command line the image runs: the last stage's ENTRYPOINT followed by its CMD (exec form). */
export function imageCommandLine(text: string): string[] {
  const final = parseDockerfile(text).at(-1);
  if (!final) throw new Error('Dockerfile has no FROM');
  const last = (k: string) => final.instructions.filter((x) => x.keyword === k).at(-1);
  const entry = last('ENTRYPOINT');
  const cmd = last('CMD');
  const entryArgv = entry ? execForm(entry.args) : [];
  const cmdArgv = cmd ? execForm(cmd.args) : [];
  if (entryArgv === undefined || cmdArgv === undefined)
    throw new Error('ENTRYPOINT/CMD must use the exec form ["node", ...]: the shell form adds a shell to every cold start');
  return [...entryArgv, ...cmdArgv];
}

/** Problems when the image's command line is not `node <nodeFlags...> dist/func.js`. */
export function checkImageNodeFlags(dockerfile: string, nodeFlags: readonly string[]): string[] {
  let argv: string[];
  try {
    argv = imageCommandLine(dockerfile);
  } catch (e) {
    return [(e as Error).message];
  }
  const expected = ['node', ...nodeFlags, 'dist/func.js'];
  return JSON.stringify(argv) === JSON.stringify(expected)
    ? []
    : [
        `the image runs ${JSON.stringify(argv)}, but package.json "prom2oci.nodeFlags" says ${JSON.stringify(expected)}: the code cache is made with ` +
          `the package.json flags, so V8 would reject it at every cold start`,
      ];
}

/** The relative files a build script reads with readFile/readFileSync('<literal>'). */
export function filesReadBy(script: string): string[] {
  return [...new Set([...script.matchAll(/readFile(?:Sync)?\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]).filter((f) => !f.startsWith('/')))];
}

/** Problems when a file `npm run build` reads is not copied into the build stage before it runs. */
export function checkBuildStageInputs(dockerfile: string, buildInputs: readonly string[]): string[] {
  const stages = parseDockerfile(dockerfile);
  const build = stages.find((s) => s.instructions.some((x) => x.keyword === 'RUN' && /\bnpm run build\b/.test(x.args)));
  if (!build) return ['no stage runs `npm run build`'];
  const runAt = build.instructions.findIndex((x) => x.keyword === 'RUN' && /\bnpm run build\b/.test(x.args));
  const copied = build.instructions
    .slice(0, runAt)
    .filter((x) => x.keyword === 'COPY' && !x.args.startsWith('--from'))
    .flatMap((x) => {
      const parts = execForm(x.args) ?? x.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
  const isCopied = (file: string) => copied.some((src) => src === '.' || src === file || file.startsWith(`${src.replace(/\/$/, '')}/`));
  return buildInputs
    .filter((f) => !isCopied(f))
    .map((f) => `the build stage runs \`npm run build\` without ${f}, which the build reads: COPY it before that RUN`);
}

/**
 * func.yaml keys `fn` reads when the function folder has a Dockerfile (fnproject/cli
 * FuncFileV20180708: with a Dockerfile, runtime/build_image/run_image/entrypoint/cmd only ever
 * fed the Dockerfile fn would otherwise generate, so they change nothing).
 */
export const FUNC_YAML_KEYS_WITH_DOCKERFILE = [
  'schema_version',
  'name',
  'version',
  'runtime',
  'memory',
  'timeout',
  'idle_timeout',
  'config',
  'annotations',
  'triggers',
  'build',
  'content_type',
  'type',
  'expects',
  'signing_details',
] as const;

/** The top-level keys of a simple YAML file and their scalar values. */
export function funcYamlFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):\s*(.*?)\s*$/.exec(line);
    if (m) out.set(m[1], m[2].replace(/\s+#.*$/, ''));
  }
  return out;
}

/** Problems of a func.yaml next to a Dockerfile: `runtime: docker`, and no key fn ignores. */
export function checkFuncYaml(text: string): string[] {
  const fields = funcYamlFields(text);
  const problems: string[] = [];
  if (fields.get('runtime') !== 'docker')
    problems.push(`runtime is "${fields.get('runtime') ?? ''}", expected "docker": the Dockerfile is the build, whatever runtime says`);
  for (const key of fields.keys()) {
    if (!(FUNC_YAML_KEYS_WITH_DOCKERFILE as readonly string[]).includes(key))
      problems.push(`key "${key}" does nothing when a Dockerfile is present (fn ignores it)`);
  }
  return problems;
}

/** One file the image's last stage copies from another stage: its path there and in the image. */
export interface ShippedFile {
  /** Path in the source stage, relative to that stage's WORKDIR (= the repository root after the build). */
  source: string;
  /** Path in the image, relative to the last stage's WORKDIR. */
  target: string;
}

/** The files the last stage copies `--from=<stage>` (exact paths; a directory or a glob is reported as a problem). */
export function shippedFiles(dockerfile: string): { files: ShippedFile[]; problems: string[] } {
  const stages = parseDockerfile(dockerfile);
  const final = stages.at(-1);
  if (!final) return { files: [], problems: ['Dockerfile has no FROM'] };
  const files: ShippedFile[] = [];
  const problems: string[] = [];
  const workdirOf = (stage: DockerStage) => stage.instructions.filter((x) => x.keyword === 'WORKDIR').at(-1)?.args ?? '/';
  for (const x of final.instructions.filter((i) => i.keyword === 'COPY')) {
    const parts = x.args.split(/\s+/);
    const from = /^--from=(\S+)$/.exec(parts[0] ?? '')?.[1];
    const source = from ? stages.find((s) => s.name === from) : undefined;
    if (!source) {
      problems.push(`line ${x.line}: COPY without --from=<stage>: the image should hold built files only`);
      continue;
    }
    const paths = parts.slice(1);
    const dest = paths.pop()!;
    const root = workdirOf(source).replace(/\/$/, '') + '/';
    for (const p of paths) {
      if (!p.startsWith(root) || /[*?[]/.test(p) || !/\.[a-z]+$/.test(p)) {
        problems.push(`line ${x.line}: ${p} is not one file under ${root} (list each file: the test copies exactly these)`);
        continue;
      }
      const rel = p.slice(root.length);
      files.push({ source: rel, target: dest.endsWith('/') ? `${dest.replace(/^\.\//, '')}${rel.split('/').pop()!}` : dest.replace(/^\.\//, '') });
    }
  }
  return { files, problems };
}
