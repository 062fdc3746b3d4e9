/**
 * Input notices: things heatgate noticed about its inputs that did not stop the run but that a reader of the
 * verdict must see (files skipped, label rows that match no image, COCO categories nobody asked for, annotations
 * outside their image). The pipeline collects them, verdict.json carries them, summary.md and report.html list
 * them. Nothing is dropped without a word.
 */
export interface InputNotice {
  /** The flag or policy key the input came from, e.g. "--labels", "--images", "--coco", "regions.static". */
  source: string;
  /** The file or folder concerned, as the user gave it. */
  file?: string;
  /** A stable machine-readable kind, e.g. "skipped-files", "unmatched-label-rows", "unknown-coco-categories". */
  kind: string;
  /** How many items (files, rows, annotations, categories). */
  count: number;
  /** Up to 10 of them, so a reader can find them. */
  examples: string[];
  /** One line a person reads: what happened and what it means. */
  message: string;
}

/** How many examples a notice keeps. */
export const NOTICE_EXAMPLES = 10;

export function notice(fields: Omit<InputNotice, 'examples'> & { examples: readonly string[] }): InputNotice {
  return { ...fields, examples: fields.examples.slice(0, NOTICE_EXAMPLES) };
}
