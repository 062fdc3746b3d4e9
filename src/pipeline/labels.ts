import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadCoco, normalizeRelPath, type CocoIndex } from '../analysis/coco.ts';
import { ConfigError, InputError } from '../errors.ts';
import { NotFoundError, restateStorageError } from '../storage/errors.ts';
import { parseLocation } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { IMAGE_EXTENSIONS } from '../imaging/formats.ts';
import { notice, type InputNotice } from '../notices.ts';

/** Class names: from --classes (one per line), else the model's heatgate.classes metadata (comma separated). */
export async function loadClassNames(
  file: string | undefined,
  metadata: string | undefined,
  classes: number,
  storage: Storage = defaultStorage(),
): Promise<string[] | undefined> {
  let names: string[] | undefined;
  if (file) {
    names = (await readText(file, '--classes', storage)).split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  } else if (metadata) {
    names = metadata.split(',').map((n) => n.trim());
  }
  if (names && names.length !== classes) {
    throw new InputError(`lists ${names.length} class names but the model has ${classes} classes`, file ?? 'model metadata heatgate.classes');
  }
  return names;
}

/** One data row of a labels CSV: the image path (normalised), the label as written, its 1-based line. */
export interface LabelRow {
  image: string;
  label: string;
  line: number;
}

/** The rows of a labels CSV, one per image, read before the model loads; `notices` says what was merged. */
export interface LabelRows {
  file: string;
  rows: LabelRow[];
  notices: InputNotice[];
}

/**
 * Reads an `image,label` CSV (header optional: a first row whose image column has no image extension and whose
 * label is not a number). Image paths are relative to the image root, with forward slashes.
 * @throws InputError for a file with no label rows, a row that is not `image,label`, or an image labelled twice
 *   with different labels (naming both lines); the same label twice is a notice.
 */
export async function readLabelRows(file: string, flag = '--labels', storage: Storage = defaultStorage()): Promise<LabelRows> {
  const where = `${flag} ${file}`;
  let records: { record: string[]; info: { lines: number } }[];
  try {
    const text = await readText(file, flag, storage);
    records = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: false, info: true }) as unknown as typeof records;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InputError) throw error;
    throw new InputError(`not a valid CSV: ${(error as Error).message}`, where);
  }
  const byImage = new Map<string, LabelRow>();
  const repeated: string[] = [];
  records.forEach(({ record, info }, i) => {
    const line = info.lines;
    if (record.length < 2) throw new InputError(`line ${line}: expected "image,label"`, where);
    const [image, label] = record;
    if (i === 0 && isHeader(image, label)) return;
    const key = normalizeRelPath(image);
    const earlier = byImage.get(key);
    if (earlier && earlier.label !== label) {
      throw new InputError(`${key} is labelled "${earlier.label}" on line ${earlier.line} and "${label}" on line ${line}`, where);
    }
    if (earlier) repeated.push(`${key} (lines ${earlier.line} and ${line})`);
    else byImage.set(key, { image: key, label, line });
  });
  if (byImage.size === 0) {
    throw new InputError(records.length === 0 ? 'no label rows (the file is empty)' : 'no label rows (only a header)', where);
  }
  const notices = repeated.length === 0 ? [] : [notice({
    source: flag, file, kind: 'duplicate-label-rows', count: repeated.length, examples: repeated,
    message: `${repeated.length} row(s) repeat an image with the same label; each image counted once`,
  })];
  return { file, rows: [...byImage.values()], notices };
}

function isHeader(image: string, label: string): boolean {
  return !/^-?\d+$/.test(label) && !IMAGE_EXTENSIONS.has(path.extname(image).toLowerCase());
}

/** Label rows that name no image of the run, as a notice (null when every row matches). */
export function unmatchedLabelRows(labels: LabelRows, images: readonly string[], flag = '--labels'): InputNotice | null {
  const known = new Set(images);
  const unmatched = labels.rows.filter((r) => !known.has(r.image));
  if (unmatched.length === 0) return null;
  return notice({
    source: flag, file: labels.file, kind: 'unmatched-label-rows', count: unmatched.length,
    examples: unmatched.map((r) => `line ${r.line}: ${r.image}`),
    message: `${unmatched.length} of ${labels.rows.length} label rows name no image under --images; not used`,
  });
}

/** Turns label rows into class indices: a label is a class index or a class name. */
export function resolveLabels(labels: LabelRows, classNames: string[] | undefined, classes: number, flag = '--labels'): Map<string, number> {
  const out = new Map<string, number>();
  for (const { image, label, line } of labels.rows) {
    const index = /^\d+$/.test(label) ? Number(label) : (classNames?.indexOf(label) ?? -1);
    if (index < 0 || index >= classes) {
      throw new InputError(
        `line ${line}: label "${label}" is neither a class index below ${classes} nor a known class name` +
          (classNames ? ` (${classNames.join(', ')})` : ' (pass --classes to use names)'),
        `${flag} ${labels.file}`,
      );
    }
    out.set(image, index);
  }
  return out;
}

/** `image,label` CSV to class indices (readLabelRows + resolveLabels). */
export async function loadLabels(file: string, classNames: string[] | undefined, classes: number): Promise<Map<string, number>> {
  return resolveLabels(await readLabelRows(file), classNames, classes);
}

async function readText(file: string, flag: string, storage: Storage): Promise<string> {
  try {
    return (await storage.read(parseLocation(file, flag))).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) throw new ConfigError('no such file', `${flag} ${file}`);
    throw restateStorageError(error, (problem) => `cannot read (${problem})`, `${flag} ${file}`);
  }
}

/**
 * Image labels from COCO annotations (analysis/coco.ts parses the file): an image's label is the class whose name
 * is a category annotated on it (exactly one such class); an image with none gets `emptyClass` when given; an image
 * with several, or none and no `emptyClass`, gets no label (accuracy skips it). Needs class names (--classes or
 * model metadata).
 */
export async function labelsFromCoco(
  source: string | Promise<CocoIndex>,
  classNames: string[] | undefined,
  emptyClass?: string,
  storage: Storage = defaultStorage(),
): Promise<Map<string, number>> {
  if (!classNames) throw new ConfigError('labels from COCO need class names: pass --classes or store heatgate.classes in the model');
  if (emptyClass !== undefined && !classNames.includes(emptyClass)) {
    throw new ConfigError(`--coco-empty-class "${emptyClass}" is not a class name (${classNames.join(', ')})`);
  }
  // A run parses the file once for the model and its baseline (a promise it shares); a bare file name is parsed here.
  const index = await (typeof source === 'string' ? loadCoco(source, {}, undefined, {}, storage) : source);
  const labels = new Map<string, number>();
  for (const image of index.images()) {
    const classes = [...image.categories].filter((n) => classNames.includes(n));
    const name = classes.length === 1 ? classes[0] : classes.length === 0 ? emptyClass : undefined;
    if (name !== undefined) labels.set(image.fileName, classNames.indexOf(name));
  }
  return labels;
}
