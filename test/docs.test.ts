/**
 * The project documents itself: README.md and docs/ link only to files that exist in the project, and never to
 * ../shared, which a clone or the npm package does not have.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const documents = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];

describe('documentation', () => {
  it.each(documents)('%s links only to files inside the project', (doc) => {
    const text = readFileSync(doc, 'utf8');
    expect(text).not.toMatch(/\.\.\/shared/);
    const links = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    const missing = links.filter((l) => !existsSync(path.join(path.dirname(doc), l)));
    expect(missing).toEqual([]);
  });

  it('docs/exit-codes.md documents every exit code heatgate uses', async () => {
    const { EXIT_CODES } = await import('../src/errors.ts');
    const text = readFileSync('docs/exit-codes.md', 'utf8');
    for (const code of Object.values(EXIT_CODES)) expect(text).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});
