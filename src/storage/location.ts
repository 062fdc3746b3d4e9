import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.ts';

/**
 * Where an input or output lives. Local paths keep the form the user gave (relative paths resolve against the
 * working directory, as they do today), so messages name them as typed; `file://` URIs become absolute paths.
 * S3 keys are kept verbatim (no percent-decoding, as the AWS CLI does).
 */
export type Location =
  | { readonly scheme: 'file'; readonly path: string }
  | { readonly scheme: 's3'; readonly bucket: string; readonly key: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
// Lenient on purpose (legacy us-east-1 buckets and Ceph allow upper case and '_'), strict on what breaks URLs.
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/**
 * Parses a location given on the command line or in a config file: `/abs`, `rel/path`, `file:///abs`,
 * `s3://bucket/key-or-prefix`.
 * @param source the flag or setting the value came from (`--images`), named in errors
 * @throws ConfigError (exit 2) for an unsupported scheme, an s3:// location without a bucket, a file:// URI with a
 *   remote host, or '.'/'..' segments in an S3 key
 */
export function parseLocation(value: string, source?: string): Location {
  const bad = (problem: string) => new ConfigError(`${problem} (got ${JSON.stringify(value)})`, source);
  if (value === '') throw bad('empty location');
  const scheme = SCHEME.exec(value)?.[1].toLowerCase();
  if (scheme === undefined) return { scheme: 'file', path: value };
  if (scheme === 'file') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw bad('malformed file:// URI');
    }
    if (url.host !== '' && url.host !== 'localhost') throw bad('file:// URI with a remote host; use file:///absolute/path');
    try {
      return { scheme: 'file', path: fileURLToPath(url) };
    } catch {
      throw bad('malformed file:// URI');
    }
  }
  if (scheme === 's3') {
    const rest = value.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1);
    if (bucket === '') throw bad('s3:// location without a bucket; expected s3://bucket/key');
    if (!BUCKET.test(bucket)) throw bad(`invalid S3 bucket name "${bucket}"`);
    if (key.split('/').some((s) => s === '.' || s === '..')) throw bad("'.' and '..' segments are not allowed in an S3 key");
    return { scheme: 's3', bucket, key };
  }
  throw bad(`unsupported scheme "${scheme}://"; expected a local path, file:// or s3://`);
}

/** The form used in messages and records: the local path as given, or `s3://bucket/key`. Never carries credentials. */
export function formatLocation(loc: Location): string {
  return loc.scheme === 'file' ? loc.path : `s3://${loc.bucket}/${loc.key}`;
}

/**
 * The location of `rel` (a '/'-separated relative path, e.g. an image path from a listing) under `root`.
 * @throws ConfigError when `rel` is absolute or its '..' segments climb out of `root`
 */
export function joinLocation(root: Location, rel: string, source?: string): Location {
  const clean = normalizeRelative(rel, root, source);
  if (root.scheme === 'file') return { scheme: 'file', path: clean === '' ? root.path : path.join(root.path, clean) };
  return { ...root, key: clean === '' ? root.key : `${keyPrefix(root.key)}${clean}` };
}

/**
 * The '/'-separated path of `child` relative to `root`, or undefined when `child` does not lie under `root`
 * (another bucket, another scheme, outside the folder or prefix).
 */
export function relativeLocation(root: Location, child: Location): string | undefined {
  if (root.scheme === 'file' && child.scheme === 'file') {
    const rel = path.relative(path.resolve(root.path), path.resolve(child.path));
    if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join('/');
  }
  if (root.scheme === 's3' && child.scheme === 's3' && root.bucket === child.bucket) {
    if (child.key === root.key) return '';
    const prefix = keyPrefix(root.key);
    return child.key.startsWith(prefix) ? child.key.slice(prefix.length) : undefined;
  }
  return undefined;
}

/**
 * `rel` under the location written as `base` (a local path, file:// or s3:// string), as a string again: how a
 * location derived from a flag (`--out`'s `baseline/`, `results.jsonl`) is named. Local paths join with
 * path.join, so they read as before.
 */
export function joinUri(base: string, rel: string, source?: string): string {
  return formatLocation(joinLocation(parseLocation(base, source), rel, source));
}

/**
 * A location given in a config file: an s3:// or file:// URI as it is, a local path resolved against `baseDir`.
 */
export function resolveUri(baseDir: string, value: string, source?: string): string {
  const loc = parseLocation(value, source);
  return loc.scheme === 'file' ? path.resolve(baseDir, loc.path) : value;
}

/** The folder or prefix holding `loc` (a model's folder, where its external data files live). */
export function parentLocation(loc: Location): Location {
  if (loc.scheme === 'file') return { scheme: 'file', path: path.dirname(loc.path) };
  const key = loc.key.endsWith('/') ? loc.key.slice(0, -1) : loc.key;
  return { ...loc, key: key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '' };
}

/** The key prefix of the objects "inside" an S3 folder-like key: '' for the bucket, else the key with one '/'. */
export function keyPrefix(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

function normalizeRelative(rel: string, root: Location, source?: string): string {
  const escape = () => new ConfigError(`path ${JSON.stringify(rel)} escapes ${formatLocation(root)}`, source);
  if (rel.startsWith('/')) throw escape();
  const out: string[] = [];
  for (const segment of rel.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) throw escape();
      out.pop();
    } else {
      out.push(segment);
    }
  }
  return out.join('/');
}

/**
 * Orders strings by their UTF-8 bytes (= by Unicode code point), the order S3 lists keys in. JavaScript's `<`
 * compares UTF-16 code units, which differs only where a character above U+FFFF (a surrogate pair) meets one in
 * U+E000..U+FFFF; the first differing unit is remapped so surrogates sort above them.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

const codePointRank = (unit: number) => (unit < 0xd800 ? unit : unit >= 0xe000 ? unit - 0x800 : unit + 0x2000);
