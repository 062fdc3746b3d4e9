/**
 * The KFP v1 command-line placeholders (kubeflow.org/docs/components/pipelines/reference/component-spec), resolved
 * the way a KFP launcher does, so a test can run component.yaml's container command locally.
 */

export interface ComponentIO {
  name: string;
  type?: string;
  optional?: boolean;
  default?: string;
}

export interface ComponentSpec {
  name: string;
  inputs?: ComponentIO[];
  outputs?: ComponentIO[];
  implementation: { container: { image: string; command?: unknown[]; args?: unknown[] } };
}

/** What the launcher supplies: input values, local paths for artifact inputs, local paths for outputs. */
export interface Bindings {
  values: Record<string, string>;
  inputPaths: Record<string, string>;
  outputPaths: Record<string, string>;
}

export interface PlaceholderUse {
  kind: 'inputValue' | 'inputPath' | 'outputPath' | 'isPresent' | 'inputUri' | 'outputUri';
  name: string;
}

const KINDS = ['inputValue', 'inputPath', 'outputPath', 'isPresent', 'inputUri', 'outputUri'] as const;

/** Every placeholder in a command or args list, in order, including those inside `if` and `concat`. */
export function placeholderUses(args: readonly unknown[]): PlaceholderUse[] {
  const uses: PlaceholderUse[] = [];
  const visit = (node: unknown): void => {
    if (typeof node === 'string' || node === null || node === undefined) return;
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object') throw new Error(`unexpected placeholder ${JSON.stringify(node)}`);
    const record = node as Record<string, unknown>;
    for (const kind of KINDS) if (kind in record) uses.push({ kind, name: String(record[kind]) });
    if ('concat' in record) visit(record.concat);
    if ('if' in record) {
      const branch = record.if as { cond: unknown; then?: unknown; else?: unknown };
      visit(branch.cond);
      visit(branch.then);
      visit(branch.else);
    }
  };
  visit(args);
  return uses;
}

/** Resolves the placeholders to the argv a launcher would run; an input that is not bound is absent. */
export function resolveCommandLine(args: readonly unknown[], spec: ComponentSpec, bound: Bindings): string[] {
  const defaults = Object.fromEntries((spec.inputs ?? []).filter((i) => i.default !== undefined).map((i) => [i.name, i.default!]));
  const value = (name: string): string | undefined => bound.values[name] ?? defaults[name];
  const isPresent = (name: string): boolean => value(name) !== undefined || bound.inputPaths[name] !== undefined;
  const one = (node: unknown): string[] => {
    if (typeof node === 'string') return [node];
    const record = node as Record<string, unknown>;
    const need = (what: string | undefined, name: string, kind: string): string[] => {
      if (what === undefined) throw new Error(`${kind} ${name} is used without a value`);
      return [what];
    };
    if ('inputValue' in record) return need(value(String(record.inputValue)), String(record.inputValue), 'inputValue');
    if ('inputPath' in record) return need(bound.inputPaths[String(record.inputPath)], String(record.inputPath), 'inputPath');
    if ('outputPath' in record) return need(bound.outputPaths[String(record.outputPath)], String(record.outputPath), 'outputPath');
    if ('concat' in record) return [(record.concat as unknown[]).flatMap(one).join('')];
    if ('if' in record) {
      const branch = record.if as { cond: { isPresent: string } | string | boolean; then?: unknown; else?: unknown };
      const cond = typeof branch.cond === 'object' ? isPresent(branch.cond.isPresent) : String(branch.cond) === 'true';
      const chosen = cond ? branch.then : branch.else;
      if (chosen === undefined) return [];
      return (Array.isArray(chosen) ? chosen : [chosen]).flatMap(one);
    }
    throw new Error(`unsupported placeholder ${JSON.stringify(node)}`);
  };
  return args.flatMap(one);
}
