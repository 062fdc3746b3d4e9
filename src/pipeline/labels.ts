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
