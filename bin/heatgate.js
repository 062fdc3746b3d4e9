#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`; `npm ci` builds it through the `prepare` script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`heatgate: ${entry.pathname} is missing: run \`npm run build\` (or \`npm ci\`) first\n`);
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
