/** Loads manifests/ and indexes what the cross-reference checks need. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const MANIFESTS = path.resolve('manifests');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML */
export type Manifest = { kind: string; apiVersion: string; metadata: { name?: string; generateName?: string }; spec?: any; [k: string]: any };

export interface LoadedManifest {
  file: string;
  doc: Manifest;
}

export async function loadManifests(dir = MANIFESTS): Promise<LoadedManifest[]> {
  const out: LoadedManifest[] = [];
  for (const entry of (await readdir(dir, { recursive: true })).sort()) {
    if (!/\.ya?ml$/.test(entry)) continue;
    const file = path.join(dir, entry);
    for (const document of parseAllDocuments(await readFile(file, 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      const doc = document.toJS({ maxAliasCount: 1000 }) as Manifest | null;
      if (doc) out.push({ file: path.relative(MANIFESTS, file), doc });
    }
  }
  return out;
}

export interface Param {
  name: string;
  value?: string;
  default?: string;
}

export interface Template {
  name: string;
  inputs?: { parameters?: Param[]; artifacts?: { name: string }[] };
  outputs?: { parameters?: { name: string; valueFrom?: { path?: string; parameter?: string } }[]; artifacts?: { name: string; path?: string; from?: string }[] };
  steps?: Step[][];
  container?: any;
  retryStrategy?: any;
  volumes?: any[];
}

export interface Step {
  name: string;
  template?: string;
  templateRef?: { name: string; template: string };
  arguments?: { parameters?: Param[] };
  when?: string;
  withItems?: unknown;
  withSequence?: unknown;
  withParam?: unknown;
}

export const isWorkflowKind = (m: Manifest) => m.apiVersion === 'argoproj.io/v1alpha1' && (m.kind === 'Workflow' || m.kind === 'WorkflowTemplate');

/** The template a step calls: local, or in another WorkflowTemplate of manifests/. */
export function calledTemplate(step: Step, own: Manifest, all: readonly Manifest[]): Template | undefined {
  if (step.template) return (own.spec.templates as Template[]).find((t) => t.name === step.template);
  if (!step.templateRef) return undefined;
  const target = all.find((m) => m.kind === 'WorkflowTemplate' && m.metadata.name === step.templateRef!.name);
  return (target?.spec.templates as Template[] | undefined)?.find((t) => t.name === step.templateRef!.template);
}

/** Every `{{...}}` expression in a value, with the surrounding braces removed. */
export function references(value: unknown): string[] {
  return [...JSON.stringify(value ?? null).matchAll(/\{\{([^{}]+)\}\}/g)].map((m) => m[1]!.trim());
}

/** The shell text a container runs with `sh -c`: the argument after the -c flag. */
export function shellScript(container: any): string {
  const command: string[] = container.command ?? [];
  if (!/\bsh$/.test(command[0] ?? '') || !/^-e?c$/.test(command[1] ?? '')) throw new Error('not an sh -c container');
  return command.length > 2 ? command[2]! : container.args[0];
}
