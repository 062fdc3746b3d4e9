import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { ConfigError, InputError } from '../errors.ts';

/** Class names: from --classes (one per line), else the model's heatgate.classes metadata (comma separated). */
export async function loadClassNames(file: string | undefined, metadata: string | undefined, classes: number): Promise<string[] | undefined> {
  let names: string[] | undefined;
  if (file) {
    names = (await readText(file)).split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  } else if (metadata) {
    names = metadata.split(',').map((n) => n.trim());
  }
  if (names && names.length !== classes) {
    throw new InputError(`lists ${names.length} class names but the model has ${classes} classes`, file ?? 'model metadata heatgate.classes');
  }
  return names;
}

/**
 * `image,label` CSV (header optional): label is a class index or a class name. Image paths are relative to the
 * image root, with forward slashes.
 */
export async function loadLabels(file: string, classNames: string[] | undefined, classes: number): Promise<Map<string, number>> {
  let rows: string[][];
  try {
    rows = parse(await readText(file), { skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (error) {
    throw new InputError(`not a valid CSV: ${(error as Error).message}`, file);
  }
  const labels = new Map<string, number>();
  rows.forEach((row, i) => {
    if (row.length < 2) throw new InputError(`line ${i + 1}: expected "image,label"`, file);
    const [image, label] = row;
    if (i === 0 && !/^-?\d+$/.test(label) && !classNames?.includes(label)) return; // a header row
    let index = /^\d+$/.test(label) ? Number(label) : (classNames?.indexOf(label) ?? -1);
    if (index < 0 || index >= classes) {
      throw new InputError(
        `line ${i + 1}: label "${label}" is neither a class index below ${classes} nor a known class name` +
          (classNames ? ` (${classNames.join(', ')})` : ' (pass --classes to use names)'),
        file,
      );
    }
    index = Math.trunc(index);
    labels.set(image.replaceAll('\\', '/').replace(/^\.\//, ''), index);
  });
  return labels;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, file);
  }
}

/**
 * Image labels from COCO annotations: an image's label is the class whose name is a category annotated on it
 * (exactly one such class); an image with none gets `emptyClass` when given; an image with several, or none and
 * no `emptyClass`, gets no label (accuracy skips it). Needs class names (--classes or model metadata).
 */
export async function labelsFromCoco(file: string, classNames: string[] | undefined, emptyClass?: string): Promise<Map<string, number>> {
  if (!classNames) throw new ConfigError('labels from COCO need class names: pass --classes or store heatgate.classes in the model');
  if (emptyClass !== undefined && !classNames.includes(emptyClass)) {
    throw new ConfigError(`--coco-empty-class "${emptyClass}" is not a class name (${classNames.join(', ')})`);
  }
  let data: { images?: { id: number | string; file_name: string }[]; annotations?: { image_id: number | string; category_id: number | string }[]; categories?: { id: number | string; name: string }[] };
  try {
    data = JSON.parse(await readText(file));
  } catch (error) {
    if (error instanceof ConfigError) throw new InputError(error.message.replace(`${file}: `, ''), file);
    throw new InputError(`not valid JSON: ${(error as Error).message}`, file);
  }
  if (!Array.isArray(data.images) || !Array.isArray(data.categories)) throw new InputError('a COCO file needs "images" and "categories" arrays', file);
  const categoryName = new Map(data.categories.map((c) => [String(c.id), c.name]));
  const annotated = new Map<string, Set<string>>();
  for (const a of data.annotations ?? []) {
    const names = annotated.get(String(a.image_id)) ?? new Set<string>();
    const name = categoryName.get(String(a.category_id));
    if (name !== undefined) names.add(name);
    annotated.set(String(a.image_id), names);
  }
  const labels = new Map<string, number>();
  for (const image of data.images) {
    const classes = [...(annotated.get(String(image.id)) ?? [])].filter((n) => classNames.includes(n));
    const name = classes.length === 1 ? classes[0] : classes.length === 0 ? emptyClass : undefined;
    if (name !== undefined) labels.set(image.file_name.replaceAll('\\', '/').replace(/^\.\//, ''), classNames.indexOf(name));
  }
  return labels;
}
