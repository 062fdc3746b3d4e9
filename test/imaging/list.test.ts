import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { listImages, scanImages } from '../../src/imaging/list.ts';
import { tempDir } from './helpers.ts';

describe('listImages', () => {
  it('lists image files recursively, sorted, relative, with / separators', async () => {
    const root = tempDir();
    const files = [
      'b.png', 'A.JPG', 'a.jpeg', 'z/inner/deep.tiff', 'z/x.webp', 'z/y.tif', 'm/readme.txt', 'm/photo.gif',
      '.hidden/c.png', 'z/._x.webp', 'noext',
    ];
    for (const f of files) {
      mkdirSync(path.join(root, path.dirname(f)), { recursive: true });
      writeFileSync(path.join(root, f), 'x');
    }
    mkdirSync(path.join(root, 'folder.png')); // a directory named like an image is walked, not listed
    writeFileSync(path.join(root, 'folder.png', 'in.png'), 'x');
    symlinkSync(path.join(root, 'b.png'), path.join(root, 'link.png'));
    symlinkSync(path.join(root, 'z'), path.join(root, 'zz')); // a directory link is not followed
    symlinkSync(path.join(root, 'gone.png'), path.join(root, 'dangling.png'));
    // sorted by code unit: upper case before lower case, '/' (0x2f) before letters
    expect(await listImages(root)).toEqual([
      'A.JPG', 'a.jpeg', 'b.png', 'folder.png/in.png', 'link.png', 'z/inner/deep.tiff', 'z/x.webp', 'z/y.tif',
    ]);
    // and says what it left out, so nothing is dropped without a word
    expect((await scanImages(root)).skipped).toEqual({
      unsupported: ['m/photo.gif', 'm/readme.txt', 'noext'],
      hidden: ['.hidden', 'z/._x.webp'],
      link: ['dangling.png', 'zz'],
    });
  });

  it('fails with an InputError for a missing directory or a file', async () => {
    const root = tempDir();
    await expect(listImages(path.join(root, 'nope'))).rejects.toThrow(InputError);
    await expect(listImages(path.join(root, 'nope'))).rejects.toThrow(/nope: image directory not found/);
    writeFileSync(path.join(root, 'f.png'), 'x');
    await expect(listImages(path.join(root, 'f.png'))).rejects.toThrow(/f\.png: not a directory/);
  });
});
