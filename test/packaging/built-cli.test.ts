/**
 * The compiled package: `npm run build` output in dist/, run the way an installed heatgate runs (bin/heatgate.js and
 * `import 'heatgate'`, plain node, no tsx). Builds first when dist/ is missing or older than a source file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  main: string;
  exports: Record<string, { default: string; types: string }>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const EXAMPLE = path.resolve('examples/underpass');
const ENTRY = 'dist/cli/main.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(file) : statSync(file).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  const stale =
    !existsSync(ENTRY) ||
    Math.max(newestMtime('src'), statSync('scripts/build.mjs').mtimeMs, statSync('tsconfig.build.json').mtimeMs) > statSync(ENTRY).mtimeMs;
  if (stale) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'pipe', timeout: 300_000 });
});

/** Runs the installed-style CLI in a child process with plain node (no loader). */
function heatgate(args: string[]) {
  const r = spawnSync(process.execPath, [pkg.bin.heatgate, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('package.json', () => {
  it('points bin, main and exports at compiled JavaScript, and tsx is only a dev dependency', () => {
    expect(pkg.main).toBe('./dist/index.js');
    expect(pkg.exports['.'].default).toBe('./dist/index.js');
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
    expect(readFileSync(pkg.bin.heatgate, 'utf8')).not.toMatch(/tsx|\.ts['"]/);
    // npm ci builds (prepare), so `npm start` works on a fresh clone.
    expect(pkg.scripts.prepare).toMatch(/build/);
  });
});

describe('the built CLI (node bin/heatgate.js)', () => {
  it('--version prints the package version and exits 0', () => {
    const r = heatgate(['--version']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it('explains the bundled demo: 48 results, exit 0, a summary line and no ANSI codes on a pipe', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'heatgate-built-'));
    const r = heatgate(['explain', '--model', path.join(EXAMPLE, 'models', 'clean.onnx'), '--images', path.join(EXAMPLE, 'images'), '--out', out, '--batch', '16']);
    expect(r.stderr).not.toMatch(/\x1b/); // eslint-disable-line no-control-regex
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^heatgate: explained 48 images \(0 resumed, 0 failed\) with gradcam at \/features\/features\.13\/Relu_output_0 on cpu/m);
    const rows = readFileSync(path.join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(48);
    const labels = new Map(readFileSync(path.join(EXAMPLE, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
    // The clean model is right on every frame of the demo (examples/underpass/README.md).
    for (const row of rows) expect(row.predicted).toBe(Number(labels.get(row.image)));
    // --overlays worst (the default): explain writes a sample of 12 overlays, named by their lines.
    const withOverlay = rows.filter((row) => row.overlay !== undefined);
    expect(withOverlay).toHaveLength(12);
    for (const row of withOverlay) expect(existsSync(path.join(out, row.overlay))).toBe(true);
  });

  it('gates with the default policy, read from dist/ (the copied YAML asset)', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'heatgate-built-gate-'));
    const r = heatgate(['run', '--model', path.join(EXAMPLE, 'models', 'shortcut.onnx'), '--images', path.join(EXAMPLE, 'images'),
      '--invalid-masks', path.join(EXAMPLE, 'invalid'), '--out', out, '--quiet', '--no-overlays']);
    expect(r.code).toBe(1);
    const verdict = JSON.parse(readFileSync(path.join(out, 'verdict.json'), 'utf8'));
    expect(verdict.verdict).toBe('fail');
    expect(verdict.policy.file).toBe('default');
    expect(verdict.tool).toEqual({ name: 'heatgate', version: pkg.version });
  });

  it('loads the AWS SDK only for s3:// locations: a local run never imports it', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'heatgate-built-lazy-'));
    const seen = path.join(out, 'imports.txt');
    // A module resolve hook (module.register) that notes every package specifier the process imports.
    const hook = `export async function resolve(s, c, next) { if (!s.startsWith('.') && !s.startsWith('node:') && !s.startsWith('file:')) (await import('node:fs')).appendFileSync(${JSON.stringify(seen)}, s + '\\n'); return next(s, c); }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, pkg.bin.heatgate, 'explain',
      '--model', path.join(EXAMPLE, 'models', 'clean.onnx'), '--images', path.join(EXAMPLE, 'images'), '--out', path.join(out, 'run'), '--quiet'],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.status).toBe(0);
    const imported = new Set(readFileSync(seen, 'utf8').trim().split('\n'));
    expect(imported).toContain('onnxruntime-node'); // the hook saw the run's imports
    expect(imported).toContain('sharp');
    expect([...imported].filter((s) => s.startsWith('@aws-sdk/') || s.startsWith('@smithy/'))).toEqual([]);
  });
});

describe("the library entry (import 'heatgate')", () => {
  it('resolves to dist/index.js and exports the documented API', () => {
    const script = "const m = await import('heatgate'); console.log(JSON.stringify({ url: import.meta.resolve('heatgate'), api: ['explainImages', 'runGate', 'Explainer'].map((k) => typeof m[k]) }));";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.stderr).toBe('');
    const { url, api } = JSON.parse(r.stdout);
    expect(url).toBe(new URL('../../dist/index.js', import.meta.url).href);
    expect(api).toEqual(['function', 'function', 'function']);
  });
});
