/**
 * Named inputs must exist and must say something (issue 7), through the CLI on the bundled demo
 * (examples/underpass): a missing path is exit 2, an unusable one exit 3, each with one line naming the flag and
 * the path, no stack trace, and nothing written; a right run still gives the right verdict.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../cli/helpers.ts';

const EXAMPLE = 'examples/underpass';
const MODELS = { clean: `${EXAMPLE}/models/clean.onnx`, shortcut: `${EXAMPLE}/models/shortcut.onnx` };
const IMAGES = `${EXAMPLE}/images`;


const temp = (name: string) => mkdtemp(path.join(tmpdir(), `heatgate-inputs-${name}-`));

/** One error line, naming what it must name, and no stack trace. */
function expectOneLine(stderr: string, text: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toBe(`heatgate: error: ${text}`);
  expect(stderr).not.toMatch(/\n\s+at /);
}

function run(model: keyof typeof MODELS, out: string, ...extra: string[]) {
  return cli(['run', '--model', MODELS[model], '--images', IMAGES, '--out', out, '--quiet', '--no-overlays', ...extra]);
}

describe('the shortcut model and its mask folder', () => {
  it('a misspelled --invalid-masks is exit 2 naming the flag and the path, and nothing is written', async () => {
    const out = path.join(await temp('typo'), 'out');
    const r = await run('shortcut', out, '--invalid-masks', 'data/invalidd');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, '--invalid-masks data/invalidd: no such folder');
    expect(existsSync(out)).toBe(false);
  });

  it('an empty mask folder, a file, or a folder with no mask for any image is exit 3', async () => {
    const dir = await temp('masks');
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const other = path.join(dir, 'other');
    await mkdir(other);
    await writeFile(path.join(other, 'unrelated.png'), 'x');
    const out = path.join(dir, 'out');
    let r = await run('shortcut', out, '--invalid-masks', empty);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `--invalid-masks ${empty}: empty folder`);
    r = await run('shortcut', out, '--invalid-masks', `${EXAMPLE}/labels.csv`);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `--invalid-masks ${EXAMPLE}/labels.csv: is a file, expected a folder`);
    r = await run('shortcut', out, '--roi-masks', other);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^heatgate: error: --roi-masks ${other}: no mask for any of the 48 images`));
    expect(existsSync(out)).toBe(false);
  });

  it('with the right folder the shortcut model still fails (1) and the clean model passes (0)', async () => {
    const dir = await temp('right');
    const masks = ['--invalid-masks', `${EXAMPLE}/invalid`, '--labels', `${EXAMPLE}/labels.csv`];
    expect((await run('shortcut', path.join(dir, 'shortcut'), ...masks)).code).toBe(1);
    expect((await run('clean', path.join(dir, 'clean'), ...masks)).code).toBe(0);
  });
});

describe('every named input', () => {
  const missing: [string, string[]][] = [
    ['--model', ['--model', 'models/nope.onnx', '--images', IMAGES]],
    ['--images', ['--model', MODELS.clean, '--images', 'imagez']],
    ['--roi-masks', ['--model', MODELS.clean, '--images', IMAGES, '--roi-masks', 'roiz']],
    ['--coco', ['--model', MODELS.clean, '--images', IMAGES, '--coco', 'ann.json']],
    ['--labels', ['--model', MODELS.clean, '--images', IMAGES, '--labels', 'labelz.csv']],
    ['--classes', ['--model', MODELS.clean, '--images', IMAGES, '--classes', 'classez.txt']],
    ['--policy', ['--model', MODELS.clean, '--images', IMAGES, '--policy', 'policy.yaml']],
    ['--baseline-model', ['--model', MODELS.clean, '--images', IMAGES, '--baseline-model', 'prod.onnx']],
  ];
  it.each(missing)('a missing %s is exit 2 with one line naming it', async (flag, args) => {
    const out = path.join(await temp('missing'), 'out');
    const r = await cli(['run', ...args, '--out', out, '--quiet']);
    expect(r.code).toBe(2);
    const value = args[args.indexOf(flag) + 1];
    expectOneLine(r.stderr, `${flag} ${value}: no such ${['--images', '--roi-masks'].includes(flag) ? 'folder' : 'file'}`);
    expect(existsSync(out)).toBe(false);
  });

  it('an empty file, or a folder where a file belongs, is exit 3 (model, labels, classes, policy, coco)', async () => {
    const dir = await temp('empty');
    const empty = path.join(dir, 'empty.txt');
    await writeFile(empty, '');
    for (const flag of ['--model', '--labels', '--classes', '--policy', '--coco']) {
      const base = ['run', '--model', MODELS.clean, '--images', IMAGES, '--out', path.join(dir, 'out'), '--quiet'];
      const args = flag === '--model' ? base.map((a) => (a === MODELS.clean ? empty : a)) : [...base, flag, empty];
      const r = await cli(args);
      expect(r.code, flag).toBe(3);
      expectOneLine(r.stderr, `${flag} ${empty}: empty file`);
      const dirArgs = flag === '--model' ? base.map((a) => (a === MODELS.clean ? dir : a)) : [...base, flag, dir];
      const d = await cli(dirArgs);
      expect(d.code, flag).toBe(3);
      expectOneLine(d.stderr, `${flag} ${dir}: is a folder, expected a file`);
    }
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it('an --images folder without a single image is exit 3', async () => {
    const dir = await temp('noimages');
    await writeFile(path.join(dir, 'notes.txt'), 'no pictures here');
    const r = await cli(['explain', '--model', MODELS.clean, '--images', dir, '--out', path.join(dir, 'out'), '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^heatgate: error: --images ${dir}: no images \\(`));
  });

  it('heatgate gate: a missing --results or --baseline-results is exit 2, an empty one exit 3', async () => {
    const dir = await temp('gate');
    let r = await cli(['gate', '--results', path.join(dir, 'results.jsonl'), '--out', dir]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, `--results ${path.join(dir, 'results.jsonl')}: no such file`);
    const empty = path.join(dir, 'empty.jsonl');
    await writeFile(empty, '');
    r = await cli(['gate', '--results', empty, '--out', dir]);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `--results ${empty}: empty file`);
    await writeFile(path.join(dir, 'ok.jsonl'), '{"image":"a.png","metrics":{"invalidMass":0.1}}\n');
    r = await cli(['gate', '--results', path.join(dir, 'ok.jsonl'), '--baseline-results', 'base.jsonl', '--out', dir]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, '--baseline-results base.jsonl: no such file');
    expect(existsSync(path.join(dir, 'verdict.json'))).toBe(false);
  });
});

describe('relative paths', () => {
  it('command-line mask folders are relative to the working directory, not to the policy file', async () => {
    const dir = await temp('relative');
    const policy = path.join(dir, 'policy.yaml');
    await cp('src/gate/default-policy.yaml', policy);
    const out = path.join(dir, 'out');
    const r = await run('shortcut', out, '--policy', policy, '--invalid-masks', `${EXAMPLE}/invalid`);
    expect(r.code).toBe(1);
    const verdict = JSON.parse(await readFile(path.join(out, 'verdict.json'), 'utf8'));
    const rule = verdict.rules.find((x: { name: string }) => x.name === 'mean-invalid-mass');
    expect(rule.outcome).toBe('fail');
    expect(rule.measured).toBeGreaterThan(0.3);
  });
});

describe('no silent fallbacks', () => {
  it('a policy rule for a class the model lacks is exit 2 naming it, before any image is processed', async () => {
    const dir = await temp('classes');
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(policy, 'version: 1\nrules:\n  - {name: cyclists, metric: invalidMass, max: 0.2, class: cyclist}\n');
    const out = path.join(dir, 'out');
    const r = await run('clean', out, '--policy', policy);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown class "cyclist": the model has no class "cyclist" \(its classes: empty, pedestrian/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(out, 'results.jsonl'))).toBe(false);
    await writeFile(policy, 'version: 1\nrules:\n  - {name: third, metric: invalidMass, max: 0.2, class: 2}\n');
    const i = await run('clean', out, '--policy', policy);
    expect(i.code).toBe(2);
    expectOneLine(i.stderr, `${policy}: rules[0].class: class index 2 is out of range: the model has 2 classes (0 to 1) (line 3)`);
  });

  it('an image above --max-pixels names its size and the limit', async () => {
    const dir = await temp('pixels');
    const r = await cli(['explain', '--model', MODELS.clean, '--images', IMAGES, '--out', dir, '--quiet', '--no-overlays', '--max-pixels', '10000']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`heatgate: error: ${path.join(IMAGES, 'frame_0000.png')}: image is 128x96 = 0.0123 Mpx, above --max-pixels 0.01 Mpx`);
    const bad = await cli(['explain', '--model', MODELS.clean, '--images', IMAGES, '--out', dir, '--max-pixels', '0']);
    expect(bad.code).toBe(2);
    expectOneLine(bad.stderr, '--max-pixels must be a positive integer, got 0');
  });
});

describe('nothing dropped without a word', () => {
  it('explain prints skipped files under --images (unsupported, hidden) to stderr, one line each', async () => {
    const dir = await temp('skipped');
    const images = path.join(dir, 'images');
    await cp(IMAGES, images, { recursive: true });
    await writeFile(path.join(images, 'clip.gif'), 'GIF89a');
    await mkdir(path.join(images, '.cache'));
    await writeFile(path.join(images, '.cache', 'frame_0000.png'), 'x');
    const r = await cli(['explain', '--model', MODELS.clean, '--images', images, '--out', path.join(dir, 'out'), '--quiet', '--no-overlays']);
    expect(r.code).toBe(0);
    const notices = r.stderr.split('\n').filter((l) => l.startsWith('heatgate: notice:'));
    expect(notices).toEqual([
      `heatgate: notice: --images ${images}: 1 entry under --images skipped: not a supported image type (e.g. clip.gif)`,
      `heatgate: notice: --images ${images}: 1 entry under --images skipped: hidden (name starts with ".") (e.g. .cache)`,
    ]);
  });

  it('run returns COCO notices: unmapped categories, unknown ids, boxes off the image, images not under --images', async () => {
    const dir = await temp('coco');
    const coco = JSON.parse(await readFile(`${EXAMPLE}/annotations.json`, 'utf8'));
    coco.categories.push({ id: 3, name: 'bicycle' });
    coco.annotations.push({ id: 900, image_id: 1, category_id: 7, bbox: [0, 0, 5, 5] });
    coco.annotations.push({ id: 901, image_id: 2, category_id: 1, bbox: [200, 10, 20, 20] });
    coco.images.push({ id: 999, file_name: 'frame_0999.png', width: 128, height: 96 });
    const ann = path.join(dir, 'ann.json');
    await writeFile(ann, JSON.stringify(coco));
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(policy, `${await readFile('src/gate/default-policy.yaml', 'utf8')}\nregions:\n  coco: {roi: [pedestrian], invalid: [timestamp]}\n`);
    const { runGate } = await import('../../src/pipeline/run.ts');
    const result = await runGate({ model: MODELS.clean, images: IMAGES, coco: ann, cocoEmptyClass: 'empty', policy, out: path.join(dir, 'out'), quiet: true, overlays: false });
    const byKind = Object.fromEntries(result.notices.map((n) => [n.kind, n]));
    expect(Object.keys(byKind).sort()).toEqual(['coco-annotations-outside-image', 'unknown-coco-category', 'unmapped-coco-categories', 'unmatched-coco-images']);
    expect(byKind['unmapped-coco-categories']).toMatchObject({ source: '--coco', file: ann, count: 1, examples: ['bicycle'] });
    expect(byKind['unknown-coco-category']).toMatchObject({ count: 1, examples: ['annotations[72] (category_id 7)'] });
    expect(byKind['coco-annotations-outside-image']).toMatchObject({ count: 1, examples: ['annotations[73].bbox (frame_0001.png, 128x96)'] });
    expect(byKind['unmatched-coco-images']).toMatchObject({ count: 1, examples: ['frame_0999.png'] });
  });

  it('images without a mask in a mask folder are counted in a notice', async () => {
    const dir = await temp('partial');
    const masks = path.join(dir, 'invalid');
    await cp(`${EXAMPLE}/invalid`, masks, { recursive: true });
    await rm(path.join(masks, 'frame_0003.png'));
    await rm(path.join(masks, 'frame_0010.png'));
    const { runGate } = await import('../../src/pipeline/run.ts');
    const result = await runGate({ model: MODELS.clean, images: IMAGES, invalidMasks: masks, out: path.join(dir, 'out'), quiet: true, overlays: false });
    expect(result.notices).toEqual([
      expect.objectContaining({ source: '--invalid-masks', file: masks, kind: 'images-without-mask', count: 2, examples: ['frame_0003.png', 'frame_0010.png'] }),
    ]);
    const rows = (await readFile(path.join(dir, 'out', 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.filter((r) => r.metrics.invalidMass === null).map((r) => r.image)).toEqual(['frame_0003.png', 'frame_0010.png']);
  });

  it('a category the policy maps but the COCO file lacks is exit 2 naming it', async () => {
    const dir = await temp('coco-missing');
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(policy, 'version: 1\nregions:\n  coco: {roi: [pedestrian], invalid: [watermark]}\nrules:\n  - {name: m, metric: invalidMass, max: 0.2}\n');
    const r = await run('clean', path.join(dir, 'out'), '--coco', `${EXAMPLE}/annotations.json`, '--policy', policy);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/names category "watermark", which .*annotations\.json does not define/);
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });
});
