import { describe, expect, it } from 'vitest';
import { ConfigError, EXIT_CODES } from '../../src/errors.ts';
import { compareUtf8, formatLocation, joinLocation, parentLocation, parseLocation, relativeLocation } from '../../src/storage/location.ts';

describe('parseLocation', () => {
  it.each([
    ['/data/images', { scheme: 'file', path: '/data/images' }],
    ['rel/path', { scheme: 'file', path: 'rel/path' }],
    ['./x', { scheme: 'file', path: './x' }],
    ['../up/model.onnx', { scheme: 'file', path: '../up/model.onnx' }],
    ['file:///data/my%20images', { scheme: 'file', path: '/data/my images' }],
    ['file://localhost/etc/x', { scheme: 'file', path: '/etc/x' }],
    ['s3://bucket', { scheme: 's3', bucket: 'bucket', key: '' }],
    ['s3://bucket/', { scheme: 's3', bucket: 'bucket', key: '' }],
    ['s3://bucket/images/', { scheme: 's3', bucket: 'bucket', key: 'images/' }],
    ['s3://my.bucket-1/a/b c%20.png', { scheme: 's3', bucket: 'my.bucket-1', key: 'a/b c%20.png' }],
    ['S3://Bucket/k', { scheme: 's3', bucket: 'Bucket', key: 'k' }],
    ['c:odd-but-local', { scheme: 'file', path: 'c:odd-but-local' }],
  ])('%s', (value, expected) => {
    expect(parseLocation(value, '--images')).toEqual(expected);
  });

  it.each([
    ['s3://', '--images: s3:// location without a bucket; expected s3://bucket/key (got "s3://")'],
    ['s3:///key', '--images: s3:// location without a bucket; expected s3://bucket/key (got "s3:///key")'],
    ['s3://b/a/../../etc', `--images: '.' and '..' segments are not allowed in an S3 key (got "s3://b/a/../../etc")`],
    ['s3://b/./k', `--images: '.' and '..' segments are not allowed in an S3 key (got "s3://b/./k")`],
    ['s3://bad bucket/k', '--images: invalid S3 bucket name "bad bucket" (got "s3://bad bucket/k")'],
    ['http://host/x', '--images: unsupported scheme "http://"; expected a local path, file:// or s3:// (got "http://host/x")'],
    ['gs://b/k', '--images: unsupported scheme "gs://"; expected a local path, file:// or s3:// (got "gs://b/k")'],
    ['file://server/share/x', '--images: file:// URI with a remote host; use file:///absolute/path (got "file://server/share/x")'],
    ['', '--images: empty location (got "")'],
  ])('rejects %j with one line naming the flag', (value, message) => {
    const error = (() => {
      try {
        parseLocation(value, '--images');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(message);
    expect((error as ConfigError).exitCode).toBe(EXIT_CODES.usage);
  });
});

describe('joinLocation / relativeLocation / formatLocation', () => {
  const s3root = parseLocation('s3://b/data');
  const fileRoot = parseLocation('/data');

  it('joins relative paths under a prefix or folder', () => {
    expect(joinLocation(s3root, 'cats/1.png')).toEqual({ scheme: 's3', bucket: 'b', key: 'data/cats/1.png' });
    expect(joinLocation(parseLocation('s3://b/data/'), 'x')).toEqual({ scheme: 's3', bucket: 'b', key: 'data/x' });
    expect(joinLocation(parseLocation('s3://b'), 'x')).toEqual({ scheme: 's3', bucket: 'b', key: 'x' });
    expect(joinLocation(fileRoot, 'cats/./1.png')).toEqual({ scheme: 'file', path: '/data/cats/1.png' });
    expect(joinLocation(fileRoot, 'cats/../dogs/2.png')).toEqual({ scheme: 'file', path: '/data/dogs/2.png' });
  });

  it.each(['../x', 'a/../../x', '/etc/passwd'])('rejects %j escaping the root', (rel) => {
    expect(() => joinLocation(s3root, rel, '--out')).toThrow(ConfigError);
    expect(() => joinLocation(fileRoot, rel, '--out')).toThrow(`--out: path ${JSON.stringify(rel)} escapes`);
  });

  it('gives the path of an object under a root, or undefined outside it', () => {
    expect(relativeLocation(s3root, parseLocation('s3://b/data/cats/1.png'))).toBe('cats/1.png');
    expect(relativeLocation(s3root, parseLocation('s3://b/database/1.png'))).toBeUndefined();
    expect(relativeLocation(s3root, parseLocation('s3://other/data/1.png'))).toBeUndefined();
    expect(relativeLocation(fileRoot, parseLocation('/data/a/b.png'))).toBe('a/b.png');
    expect(relativeLocation(fileRoot, parseLocation('/database/b.png'))).toBeUndefined();
    expect(relativeLocation(fileRoot, s3root)).toBeUndefined();
  });

  it('gives the folder of a file, where sibling files (external data) join', () => {
    const model = parseLocation('s3://b/models/v2/model.onnx');
    expect(parentLocation(model)).toEqual({ scheme: 's3', bucket: 'b', key: 'models/v2/' });
    expect(joinLocation(parentLocation(model), 'weights.bin')).toEqual({ scheme: 's3', bucket: 'b', key: 'models/v2/weights.bin' });
    expect(parentLocation(parseLocation('s3://b/model.onnx'))).toEqual({ scheme: 's3', bucket: 'b', key: '' });
    expect(parentLocation(parseLocation('s3://b/models/'))).toEqual({ scheme: 's3', bucket: 'b', key: '' });
    expect(parentLocation(parseLocation('/m/model.onnx'))).toEqual({ scheme: 'file', path: '/m' });
  });

  it('formats for messages', () => {
    expect(formatLocation(parseLocation('s3://b/data/x.png'))).toBe('s3://b/data/x.png');
    expect(formatLocation(parseLocation('rel/x.png'))).toBe('rel/x.png');
    expect(formatLocation(parseLocation('file:///abs/x.png'))).toBe('/abs/x.png');
  });
});

describe('compareUtf8', () => {
  it('orders like the UTF-8 bytes (S3 listing order), not like UTF-16 code units', () => {
    const names = ['\u{1F600}.png', '\uFF21.png', 'b.png', 'a/b.png', 'a-b.png', 'A.png', 'é.png'];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...names].sort(compareUtf8)).toEqual(byBytes);
    // UTF-16 puts the emoji (surrogate pair, 0xD83D...) before U+FF21; its UTF-8 bytes (F0...) sort after EF...
    expect(compareUtf8('\u{1F600}', '\uFF21')).toBeGreaterThan(0);
    expect('\u{1F600}' < '\uFF21').toBe(true);
  });
});
