#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ (tsc -p tsconfig.build.json) from a clean dist/, then copies the assets
// the compiled code reads at run time: every non-TypeScript file under src/ (policy schema, default policy; not the
// READMEs) to the same path under dist/, and the top-level schemas/*.json to dist/schemas/.
// Plain JavaScript so it runs right after `npm ci` (the `prepare` script), before anything is compiled.
// It builds into a fresh folder and swaps it in at the end, so a heatgate running from dist/ meanwhile (a test, a
// second build) never sees a half-written dist/.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const finalDist = path.join(root, 'dist');
const dist = path.join(root, `.dist-build-${process.pid}`);

const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
if (!existsSync(tsc)) {
  // e.g. `npm ci --omit=dev`, which still runs `prepare`: install with dev dependencies, or add --ignore-scripts.
  process.stderr.write('heatgate build: typescript is not installed (dev dependencies omitted?); run `npm ci` with dev dependencies\n');
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });

const isAsset = (name) => !name.endsWith('.ts') && name !== 'README.md';
function copyAssets(from, to) {
  for (const name of readdirSync(from)) {
    const source = path.join(from, name);
    if (statSync(source).isDirectory()) copyAssets(source, path.join(to, name));
    else if (isAsset(name)) cpSync(source, path.join(to, name));
  }
}
copyAssets(path.join(root, 'src'), dist);

const schemas = path.join(root, 'schemas');
if (existsSync(schemas)) {
  for (const name of readdirSync(schemas).filter((n) => n.endsWith('.json'))) cpSync(path.join(schemas, name), path.join(dist, 'schemas', name));
}

const old = `${dist}-old`;
if (existsSync(finalDist)) renameSync(finalDist, old);
renameSync(dist, finalDist);
rmSync(old, { recursive: true, force: true });
