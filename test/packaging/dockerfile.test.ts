/**
 * The Dockerfile, checked statically (no Docker engine here): parsed with dockerfile-ast, then the rules the images
 * promise: pinned bases, both targets, Node >= 22, non-root numeric user, the CLI as entrypoint, production
 * dependencies only, no context files (tests, secrets) in the runtime images, the CUDA provider installed at build
 * time, read-only-root friendly HOME/TMPDIR, OCI labels; and a .dockerignore that keeps secrets and local state out.
 */
import { readFileSync } from 'node:fs';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';

interface Stage {
  name: string;
  /** The FROM image with build args resolved: an image reference, or the name of an earlier stage. */
  base: string;
  instructions: Instruction[];
}

const text = readFileSync('Dockerfile', 'utf8');
const dockerfile = DockerfileParser.parse(text);
const args = new Map(dockerfile.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
const resolve = (value: string) => value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args.get(a ?? b) ?? `<unset ${a ?? b}>`);

const stages: Stage[] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const [image, as, name] = instruction.getArguments().map((a) => a.getValue());
    expect(as?.toUpperCase(), `every stage is named: FROM ${image}`).toBe('AS');
    stages.push({ name, base: resolve(image), instructions: [] });
  } else if (stages.length > 0) {
    stages[stages.length - 1].instructions.push(instruction);
  }
}
const stage = (name: string) => {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage "${name}" in the Dockerfile`);
  return found;
};
/** The stage and the stages it is built FROM, nearest first. */
const lineage = (name: string): Stage[] => {
  const s = stage(name);
  return stages.some((t) => t.name === s.base) ? [s, ...lineage(s.base)] : [s];
};
const of = (s: Stage, keyword: string) => s.instructions.filter((i) => i.getKeyword() === keyword);
const copyFrom = (i: Instruction) =>
  (i as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags().find((f) => f.getName() === 'from')?.getValue() ?? undefined;
const runs = (s: Stage) => of(s, 'RUN').map((i) => i.getArgumentsContent() ?? '');
const externalBase = (name: string) => lineage(name).at(-1)!.base;
/** node:<major>... → major. */
const nodeMajor = (image: string) => Number(/(?:^|\/)node:(\d+)/.exec(image)?.[1] ?? NaN);

const RUNTIME_TARGETS = ['cpu', 'cuda'];

describe('Dockerfile', () => {
  it('has the two runtime targets, cpu and cuda', () => {
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(RUNTIME_TARGETS));
  });

  it('pins every base image by a full version tag or a digest (no latest, no bare or major-only tag)', () => {
    const external = stages.map((s) => s.base).filter((b) => !stages.some((s) => s.name === b));
    expect(external.length).toBeGreaterThan(0);
    for (const image of external) {
      expect(image, 'unresolved build arg').not.toContain('<unset');
      const digest = /@sha256:[0-9a-f]{64}$/.test(image);
      const tag = /:([^/@]+)(@|$)/.exec(image)?.[1];
      expect(digest || (tag !== undefined && tag !== 'latest' && /\d+\.\d+\.\d+/.test(tag)), `${image} is not pinned`).toBe(true);
    }
  });

  it('cpu runs on a Node >= 22 slim image; cuda on NVIDIA CUDA 12 + cuDNN runtime with Node >= 22 from a pinned Node image', () => {
    expect(nodeMajor(externalBase('cpu'))).toBeGreaterThanOrEqual(22);
    expect(externalBase('cpu')).toMatch(/slim/);
    const cuda = externalBase('cuda');
    expect(cuda).toMatch(/^(docker\.io\/)?nvidia\/cuda:12\.\d+\.\d+-cudnn\d*-runtime-ubuntu\d+\.\d+/);
    const nodeCopy = of(stage('cuda'), 'COPY').find((c) => /\/node(\s|$)/.test(c.getArgumentsContent() ?? ''));
    expect(nodeCopy, 'cuda copies a node binary from a Node image stage').toBeDefined();
    expect(nodeMajor(externalBase(copyFrom(nodeCopy!)!))).toBeGreaterThanOrEqual(22);
  });

  it.each(RUNTIME_TARGETS)('%s runs as a non-root numeric user with the CLI as its entrypoint', (name) => {
    const user = of(stage(name), 'USER').at(-1)?.getArgumentsContent();
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
    const entrypoints = of(stage(name), 'ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    expect(JSON.parse(entrypoints[0].getArgumentsContent()!)).toEqual(['heatgate']);
  });

  it.each(RUNTIME_TARGETS)('%s copies nothing from the build context, only built stages (no tests, no secrets, no dev files)', (name) => {
    for (const copy of [...of(stage(name), 'COPY'), ...of(stage(name), 'ADD')]) {
      expect(copyFrom(copy), `${copy.getKeyword()} ${copy.getArgumentsContent()}`).toBeDefined();
    }
  });

  it.each(RUNTIME_TARGETS)('%s gets node_modules from a stage that dropped the dev dependencies', (name) => {
    const copy = of(stage(name), 'COPY').find((c) => /node_modules/.test(c.getArgumentsContent() ?? ''));
    expect(copy).toBeDefined();
    const source = lineage(copyFrom(copy!)!);
    expect(source.flatMap(runs).some((r) => /npm (prune|ci)\b[^&]*--omit=dev/.test(r))).toBe(true);
  });

  it('cuda gets its node_modules from a stage that installed onnxruntime-node\'s CUDA provider', () => {
    const copy = of(stage('cuda'), 'COPY').find((c) => /node_modules/.test(c.getArgumentsContent() ?? ''));
    const source = lineage(copyFrom(copy!)!);
    const install = source.flatMap(runs).find((r) => /onnxruntime-node\/script\/install/.test(r));
    expect(install).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(install).toMatch(/libonnxruntime_providers_cuda\.so/); // and checks the library arrived
    // The cpu image does not carry it.
    const cpuCopy = of(stage('cpu'), 'COPY').find((c) => /node_modules/.test(c.getArgumentsContent() ?? ''));
    expect(lineage(copyFrom(cpuCopy!)!).flatMap(runs).some((r) => /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(r))).toBe(false);
  });

  it.each(RUNTIME_TARGETS)('%s writes only to /tmp: HOME and TMPDIR point there (read-only root filesystem)', (name) => {
    const env = new Map(of(stage(name), 'ENV').flatMap((e) => (e as unknown as { getProperties(): { getName(): string; getValue(): string }[] }).getProperties().map((p) => [p.getName(), p.getValue()] as const)));
    expect(env.get('TMPDIR')).toBe('/tmp');
    expect(env.get('HOME')).toBe('/tmp');
  });

  it.each(RUNTIME_TARGETS)('%s carries the OCI labels', (name) => {
    const labels = of(stage(name), 'LABEL').map((l) => l.getArgumentsContent()).join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'source', 'licenses']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('documents the targets in the README', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('docker build --target cuda');
    expect(readme).toContain('docker build --target cpu');
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('starts from nothing (an allow-list) and never re-admits tests or local outputs', () => {
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((l) => l.startsWith('!'));
    for (const a of allowed) expect(a).not.toMatch(/test|node_modules|\.git|\.env|out|coverage|fixtures/);
  });

  it('excludes node_modules, .git, test outputs and secrets wherever they sit, after the allow-list', () => {
    const lastAllow = lines.findLastIndex((l) => l.startsWith('!'));
    const denied = lines.slice(lastAllow + 1);
    for (const pattern of ['**/node_modules', '**/.git', '**/out', '**/test-output', '**/.env', '**/*.pem', '**/.aws', '**/.npmrc']) {
      expect(denied).toContain(pattern);
    }
  });
});
