import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, InfrastructureError, InputError } from '../../src/errors.ts';
import { NotFoundError } from '../../src/storage/errors.ts';
import { fsError, LocalBackend } from '../../src/storage/local.ts';
import { parseLocation } from '../../src/storage/location.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'heatgate-storage-'));
const local = new LocalBackend();
const at = (p: string) => parseLocation(p);
const collect = async (it: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
};

function tree(root: string, files: string[]): void {
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), f);
  }
}

describe('LocalBackend.list', () => {
  it('walks recursively in UTF-8 byte order of the whole path, as S3 lists keys', async () => {
    const dir = tmp();
    // 'a-b.png' (0x2d) sorts before everything in folder 'a' ('a/', 0x2f), 'a0' (0x30) after it; per-folder
    // name sorting would put folder 'a' first. The emoji sorts after U+FF21 in bytes, before it in UTF-16.
    const files = ['a/z.png', 'a/b/c.png', 'a-b.png', 'a0.png', 'B.png', '\u{1F600}.png', '\uFF21.png', 'é/x.png'];
    tree(dir, files);
    const expected = [...files].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(expected).toEqual(['B.png', 'a-b.png', 'a/b/c.png', 'a/z.png', 'a0.png', 'é/x.png', '\uFF21.png', '\u{1F600}.png']);
    expect(await collect(local.list(at(dir)))).toEqual(expected);
  });

  it('lists one level without recursion, skips hidden names unless asked, follows links to files only', async () => {
    const dir = tmp();
    tree(dir, ['top.png', 'sub/inner.png', '.git/config', 'sub/.DS_Store', '._top.png']);
    symlinkSync(join(dir, 'top.png'), join(dir, 'link.png'));
    symlinkSync(join(dir, 'sub'), join(dir, 'loop'));
    symlinkSync(join(dir, 'missing.png'), join(dir, 'dangling.png'));
    expect(await collect(local.list(at(dir)))).toEqual(['link.png', 'sub/inner.png', 'top.png']);
    expect(await collect(local.list(at(dir), { recursive: false }))).toEqual(['link.png', 'top.png']);
    expect(await collect(local.list(at(dir), { includeHidden: true }))).toEqual([
      '._top.png',
      '.git/config',
      'link.png',
      'sub/.DS_Store',
      'sub/inner.png',
      'top.png',
    ]);
  });

  it('fails with NotFoundError for a missing folder and InputError for a file', async () => {
    const dir = tmp();
    tree(dir, ['f.png']);
    const missing = await collect(local.list(at(join(dir, 'nope')))).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).message).toBe(`${join(dir, 'nope')}: folder not found`);
    expect((missing as NotFoundError).exitCode).toBe(EXIT_CODES.inputData);
    await expect(collect(local.list(at(join(dir, 'f.png'))))).rejects.toThrow(`${join(dir, 'f.png')}: not a folder`);
  });
});

describe('LocalBackend read/stat/write/remove', () => {
  it('stats files and folders, undefined when missing', async () => {
    const dir = tmp();
    tree(dir, ['a/b.bin']);
    expect(await local.stat(at(join(dir, 'a')))).toEqual({ kind: 'folder' });
    expect(await local.stat(at(join(dir, 'a/b.bin')))).toEqual({ kind: 'file', size: 'a/b.bin'.length });
    expect(await local.stat(at(join(dir, 'nope')))).toBeUndefined();
    expect(await local.stat(at(join(dir, 'a/b.bin/under-a-file')))).toBeUndefined();
  });

  it('reads whole and streamed; a missing file is NotFoundError, a folder an InputError', async () => {
    const dir = tmp();
    tree(dir, ['x.txt']);
    expect((await local.read(at(join(dir, 'x.txt')))).toString()).toBe('x.txt');
    const chunks: Buffer[] = [];
    for await (const c of await local.readStream(at(join(dir, 'x.txt')))) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('x.txt');
    await expect(local.read(at(join(dir, 'y.txt')))).rejects.toBeInstanceOf(NotFoundError);
    await expect(local.readStream(at(join(dir, 'y.txt')))).rejects.toThrow(`${join(dir, 'y.txt')}: not found`);
    await expect(local.read(at(dir))).rejects.toThrow(`${dir}: is a folder, expected a file`);
  });

  it('maps errno codes: permission → InputError (exit 3), I/O and space → InfrastructureError (exit 4)', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    const denied = fsError(errno('EACCES'), '/data/secret.bin', 'read');
    expect(denied).toBeInstanceOf(InputError);
    expect(denied.message).toBe('/data/secret.bin: permission denied (cannot read)');
    expect(fsError(errno('ENOENT'), '/x', 'read')).toBeInstanceOf(NotFoundError);
    const full = fsError(errno('ENOSPC'), '/out/results.jsonl', 'write');
    expect(full).toBeInstanceOf(InfrastructureError);
    expect(full.message).toBe('/out/results.jsonl: cannot write (ENOSPC)');
    expect(full.exitCode).toBe(EXIT_CODES.infrastructure);
  });

  it('writes atomically (creating folders) and removes, a missing file being no error', async () => {
    const dir = tmp();
    const loc = at(join(dir, 'deep/er/out.json'));
    await local.write(loc, ['{', '}']);
    expect(readFileSync(join(dir, 'deep/er/out.json'), 'utf8')).toBe('{}');
    await local.remove(loc);
    expect(await local.stat(loc)).toBeUndefined();
    await local.remove(loc);
  });
});
