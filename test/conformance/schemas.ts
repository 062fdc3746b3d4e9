/**
 * The official schemas from ../shared/schemas (never copied into the project), compiled with ajv. Strict mode
 * closes every object definition (additionalProperties: false, in memory only), because the saved schemas accept
 * unknown fields while `argo lint` and `kubectl apply --validate=strict` reject them: a misspelt field must fail here.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };

export const SCHEMAS = path.resolve(process.env.HEATGATE_SCHEMAS ?? path.resolve('../shared/schemas'));

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON Schema documents */
function load(file: string): any {
  const full = path.join(SCHEMAS, file);
  if (!existsSync(full)) throw new Error(`${full}: missing; the conformance tests need ../shared/schemas beside the clone (or HEATGATE_SCHEMAS)`);
  return JSON.parse(readFileSync(full, 'utf8'));
}

function closeObjects(schema: any): any {
  for (const definition of Object.values<any>(schema.definitions ?? {})) {
    if (definition.properties && definition.additionalProperties === undefined) definition.additionalProperties = false;
  }
  return schema;
}

const options = { strict: false, allErrors: true, validateFormats: false, logger: false } as const;

export function argoValidator(strict: boolean): ValidateFunction {
  const schema = load('argo-workflows.schema.json');
  // The schema types IntOrString and Quantity as strings only; Kubernetes and Argo accept numbers too (README there).
  schema.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  schema.definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  return new Ajv2020(options).compile(strict ? closeObjects(schema) : schema);
}

export function k8sValidator(strict: boolean): ValidateFunction {
  const schema = load('k8s-job-pod.schema.json');
  return new Ajv(options).compile(strict ? closeObjects(schema) : schema);
}

export function kfpValidator(file = 'kfp-component-v1.kfp2.schema.json'): ValidateFunction {
  const ajv = new Ajv(options);
  ajv.addMetaSchema(draft06);
  return ajv.compile(load(file));
}

/** ajv errors as short lines: path and message. */
export function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
}
