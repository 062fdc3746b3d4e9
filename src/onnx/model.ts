import { createHash } from 'node:crypto';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { BugError, InputError } from '../errors.ts';
import { writeFileAtomic } from '../storage/atomic.ts';
import { restateStorageError } from '../storage/errors.ts';
import { formatLocation, joinLocation, parentLocation, parseLocation, type Location } from '../storage/location.ts';
import { defaultStorage, type Storage } from '../storage/storage.ts';
import { onnx, toNumber } from './proto.ts';

/** The opsets of the default ONNX domain that heatgate reads; 7 to 10 are upgraded to 11 in memory (upgrade.ts). */
export const MIN_OPSET = 7;
export const MAX_OPSET = 21;

export interface LoadedModel {
  model: onnx.ModelProto;
  /** Where it was read from (for error messages and fingerprints). */
  file: string;
  /** The default-domain opset. */
  opset: number;
  /** sha256 of the model file's bytes (the ones decoded here: one read serves the model and its fingerprint). */
  sha256: string;
  /** The opset the file was exported at, when heatgate upgraded the graph in memory (upgrade.ts). */
  exportedOpset?: number;
  /** The file's bytes as decoded, for encoding models that extend the graph without a copy of the weights (encodeModel). */
  source?: ModelSource;
}

/**
 * The bytes a model was decoded from, in a buffer with room after them, and the decoded model's fields as they
 * were. A model that keeps every field and only appends to the graph's node, initializer, input and output lists
 * is encoded as those bytes plus the appended part written after them: protobuf merges a message field that occurs
 * twice and concatenates its lists, so ONNX Runtime reads the extended graph, and the weights stay in one copy.
 * Code that changes the decoded model in place (rather than building new lists) sets `stale`. (protobufjs's own
 * decoder does not merge: decoding such bytes with it gives the appended part alone; ONNX Runtime's reads them right.)
 */
export interface ModelSource {
  buffer: Buffer;
  length: number;
  model: onnx.ModelProto;
  fields: Map<string, unknown>;
  graphFields: Map<string, unknown>;
  /** Set once an appended part has been written (a second one would overwrite the first): later models are copied. */
  used: boolean;
  stale: boolean;
}

/**
 * Room after the file's bytes for the part an augmented graph appends (the backward nodes and their small constants:
 * kilobytes for a CNN head); pages are committed only when written. A part that does not fit is encoded whole.
 */
const appendRoom = (size: number) => Math.min(32 * 1024 * 1024, Math.max(4 * 1024 * 1024, size));
const APPENDABLE = new Set(['node', 'initializer', 'input', 'output']);

export interface LoadModelOptions {
  /** Where `file` and its external data are read from (a local path, file:// or s3://). Default: defaultStorage(). */
  storage?: Storage;
}

/**
 * Reads an ONNX file, resolving external-data initializers into the model (so the result can be handed to ONNX
 * Runtime as one buffer). A data location that is absolute or escapes the model's folder is rejected.
 */
export async function loadModel(file: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const storage = options.storage ?? defaultStorage();
  const loc = parseLocation(file);
  const read = await readWithRoom(storage, loc, file);
  const model = decodeModel(read.bytes, file);
  const external = await resolveExternalData(model, file, loc, storage);
  const source = read.room && !external ? modelSource(read.room, read.bytes.length, model) : undefined;
  return { model, file, opset: defaultOpset(model, file), sha256: read.sha256, ...(source && { source }) };
}

/**
 * Reads the model into a buffer with room after it (appendRoom), hashing the bytes as they come: local files in large
 * pieces, others by `stat` and a stream. A file whose size is not known up front, or that changes while read, is read
 * plainly (and its errors reported as before).
 */
async function readWithRoom(storage: Storage, loc: Location, file: string): Promise<{ bytes: Buffer; sha256: string; room?: Buffer }> {
  const problem = (p: string) => `cannot read model: ${p}`;
  if (loc.scheme === 'file') {
    const local = await readLocalWithRoom(loc.path).catch(() => undefined); // errors are reported by the plain read below
    if (local) return local;
    const bytes = await readOrThrow(storage, loc, problem, file);
    return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  const size = await storage.stat(loc).then((s) => (s?.kind === 'file' ? s.size : undefined), () => undefined);
  if (size !== undefined && size > 0) {
    const room = Buffer.allocUnsafe(size + appendRoom(size));
    const hash = createHash('sha256');
    let length = 0;
    try {
      for await (const chunk of await storage.readStream(loc)) {
        const bytes = chunk as Buffer;
        if (length + bytes.length > size) break;
        bytes.copy(room, length);
        hash.update(bytes);
        length += bytes.length;
      }
    } catch (error) {
      throw restateStorageError(error, problem, file);
    }
    if (length === size) return { bytes: room.subarray(0, size), sha256: hash.digest('hex'), room };
  }
  const bytes = await readOrThrow(storage, loc, problem, file);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A local file read in large pieces straight into its buffer (a stream's 64 KiB chunks cost more). */
async function readLocalWithRoom(file: string): Promise<{ bytes: Buffer; sha256: string; room: Buffer } | undefined> {
  const handle = await open(file, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size === 0) return undefined;
    const room = Buffer.allocUnsafe(stat.size + appendRoom(stat.size));
    const hash = createHash('sha256');
    let length = 0;
    while (length < stat.size) {
      const { bytesRead } = await handle.read(room, length, Math.min(READ_PIECE, stat.size - length), length);
      if (bytesRead === 0) return undefined; // shrank while read
      hash.update(room.subarray(length, length + bytesRead));
      length += bytesRead;
    }
    return { bytes: room.subarray(0, length), sha256: hash.digest('hex'), room };
  } finally {
    await handle.close();
  }
}

const READ_PIECE = 16 * 1024 * 1024;

function modelSource(buffer: Buffer, length: number, model: onnx.ModelProto): ModelSource {
  // The generated classes keep each field's default on the prototype: its keys are the field names.
  const snapshot = (message: object, prototype: object) =>
    new Map(Object.keys(prototype).filter((name) => typeof (prototype as Record<string, unknown>)[name] !== 'function').map((name) => {
      const value = (message as Record<string, unknown>)[name];
      return [name, Array.isArray(value) ? [...value] : value];
    }));
  return {
    buffer,
    length,
    model,
    fields: snapshot(model, onnx.ModelProto.prototype),
    graphFields: snapshot(model.graph!, onnx.GraphProto.prototype),
    used: false,
    stale: false,
  };
}

/** What `model` appends to the source's graph lists, or undefined when it differs in any other way. */
function appendedPart(source: ModelSource, model: onnx.IModelProto): onnx.IGraphProto | undefined {
  const graph = model.graph;
  if (!graph) return undefined;
  for (const [name, value] of source.fields) {
    if (name !== 'graph' && !same(value, (model as Record<string, unknown>)[name])) return undefined;
  }
  const appended: Record<string, unknown[]> = {};
  for (const [name, value] of source.graphFields) {
    const now = (graph as Record<string, unknown>)[name];
    if (APPENDABLE.has(name)) {
      const before = value as unknown[], after = (now ?? []) as unknown[];
      if (after.length < before.length || before.some((v, i) => after[i] !== v)) return undefined;
      appended[name] = after.slice(before.length);
    } else if (!same(value, now)) {
      return undefined;
    }
  }
  return appended;
}

/** The same value, or lists of the same elements (the snapshot holds copies of the lists). */
const same = (before: unknown, now: unknown) =>
  before === now || (Array.isArray(before) && Array.isArray(now) && before.length === now.length && before.every((v, i) => now[i] === v));

/** Reads `loc`; a storage outage stays exit 4, anything else about the file is an InputError (exit 3). */
async function readOrThrow(storage: Storage, loc: Location, message: (problem: string) => string, file: string): Promise<Buffer> {
  try {
    return await storage.read(loc);
  } catch (error) {
    throw restateStorageError(error, message, file);
  }
}

export function decodeModel(bytes: Uint8Array, file = '<buffer>'): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new InputError(`not an ONNX model (protobuf decode failed: ${(error as Error).message})`, file);
  }
  if (!model.graph?.node?.length) throw new InputError('not an ONNX model (no graph nodes)', file);
  return model;
}

/**
 * The model's protobuf bytes. With `base` (the model it was built from) and a model that only appends to base's
 * graph lists, the file's own bytes with the appended part after them, in base's buffer: no copy of the weights.
 */
export function encodeModel(model: onnx.IModelProto, base?: LoadedModel): Uint8Array {
  assertWeightsPresent(model);
  const source = base?.source;
  if (source && !source.used && !source.stale) {
    const appended = appendedPart(source, model);
    if (appended) {
      const tail = onnx.ModelProto.encode({ graph: appended }).finish();
      if (source.length + tail.length <= source.buffer.length) {
        source.used = true;
        source.buffer.set(tail, source.length);
        return source.buffer.subarray(0, source.length + tail.length);
      }
    }
  }
  return onnx.ModelProto.encode(model).finish();
}

/** Tensors whose values releaseWeights dropped: a model holding one must never reach ONNX Runtime or a file. */
const releasedTensors = new WeakSet<object>();

/**
 * Drops the weights of a decoded model once ONNX Runtime holds them (the session is open and nothing will build
 * another graph from this copy): the values of every initializer and Constant-node tensor, and the file's bytes they
 * were views of. The graph's structure, names, shapes and metadata stay. One copy of the weights stays in memory
 * (ONNX Runtime's), not two: 45 MiB less for resnet18, 98 MiB for resnet50. Encoding the model afterwards is a bug
 * (BugError), never a model with empty weights.
 */
export function releaseWeights(loaded: LoadedModel): void {
  const strip = (t: onnx.ITensorProto) => {
    t.rawData = new Uint8Array(0);
    for (const field of ['floatData', 'int32Data', 'int64Data', 'doubleData', 'uint64Data', 'stringData'] as const) t[field] = [];
    releasedTensors.add(t);
  };
  for (const t of loaded.model.graph?.initializer ?? []) strip(t);
  for (const node of loaded.model.graph?.node ?? []) for (const a of node.attribute ?? []) if (a.t) strip(a.t);
  loaded.source = undefined;
}

function assertWeightsPresent(model: onnx.IModelProto): void {
  const graph = model.graph;
  const released = (graph?.initializer ?? []).some((t) => releasedTensors.has(t)) ||
    (graph?.node ?? []).some((n) => (n.attribute ?? []).some((a) => a.t && releasedTensors.has(a.t)));
  if (released) throw new BugError('a model whose weights were released after its session opened was encoded again');
}

/** Writes the model atomically (temp file + rename), with all tensors inline. */
export async function saveModel(model: onnx.IModelProto, file: string): Promise<void> {
  await writeFileAtomic(file, encodeModel(model));
}

export function defaultOpset(model: onnx.IModelProto, file = '<model>'): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!entry) throw new InputError('model imports no default-domain (ai.onnx) opset', file);
  const version = toNumber(entry.version);
  if (version < MIN_OPSET) {
    throw new InputError(`opset ${version} is older than the oldest supported (${MIN_OPSET}; heatgate upgrades 7 to 10 in memory); convert the model to opset >= ${MIN_OPSET} (onnx.version_converter) or re-export it`, file);
  }
  if (version > MAX_OPSET) {
    throw new InputError(`opset ${version} is newer than the newest supported (${MAX_OPSET}); re-export the model with opset <= ${MAX_OPSET}`, file);
  }
  return version;
}

/** Reads external-data tensors into the model; returns whether there were any. */
async function resolveExternalData(model: onnx.ModelProto, file: string, loc: Location, storage: Storage): Promise<boolean> {
  const tensors = allTensors(model.graph);
  const external = tensors.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  if (external.length === 0) return false;
  // Local folders are compared after symlinks resolve (a link must not lead out); S3 keys have no links.
  const folder = loc.scheme === 'file' ? await realpath(path.dirname(path.resolve(loc.path))) : undefined;
  const cache = new Map<string, Buffer>();
  for (const tensor of external) {
    const info = new Map((tensor.externalData ?? []).map((kv) => [kv.key ?? '', kv.value ?? '']));
    const location = info.get('location');
    if (!location) throw new InputError(`tensor "${tensor.name}" has external data without a location`, file);
    const target = folder !== undefined ? { scheme: 'file' as const, path: await safeExternalPath(folder, location, tensor.name ?? '', file) } : safeExternalKey(loc, location, tensor.name ?? '', file);
    const key = formatLocation(target);
    let data = cache.get(key);
    if (!data) {
      data = await readOrThrow(storage, target, (problem) => `cannot read external data "${location}" of tensor "${tensor.name}": ${problem}`, file);
      cache.set(key, data);
    }
    const offset = Number(info.get('offset') ?? 0);
    const length = info.has('length') ? Number(info.get('length')) : data.length - offset;
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > data.length) {
      throw new InputError(`external data of tensor "${tensor.name}" (offset ${offset}, length ${length}) lies outside "${location}" (${data.length} bytes)`, file);
    }
    tensor.rawData = data.subarray(offset, offset + length);
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    tensor.externalData = [];
  }
  return true;
}

/** Resolves `location` inside the model's folder; symlinks are followed before the check. */
async function safeExternalPath(folder: string, location: string, tensorName: string, file: string): Promise<string> {
  const escapes = () =>
    new InputError(`external data location "${location}" of tensor "${tensorName}" escapes the model's folder; it must be a relative path inside ${folder}`, file);
  if (path.isAbsolute(location) || location.includes('\0')) throw escapes();
  const joined = path.resolve(folder, location);
  if (!isInside(folder, joined)) throw escapes();
  let resolved: string;
  try {
    resolved = await realpath(joined);
  } catch {
    throw new InputError(`external data file "${location}" of tensor "${tensorName}" does not exist`, file);
  }
  if (!isInside(folder, resolved)) throw escapes();
  return resolved;
}

/** `location` under the model's S3 prefix, by the same rules as safeExternalPath (no absolute paths, no climbing out). */
function safeExternalKey(model: Location, location: string, tensorName: string, file: string): Location {
  const folder = parentLocation(model);
  const escapes = () =>
    new InputError(`external data location "${location}" of tensor "${tensorName}" escapes the model's folder; it must be a relative path inside ${formatLocation(folder)}`, file);
  if (location.startsWith('/') || location.includes('\0') || location.split(/[\\/]/).includes('..')) throw escapes();
  return joinLocation(folder, location.replace(/\\/g, '/'));
}

function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** Initializers and Constant-node tensors of the graph and its subgraphs. */
function allTensors(graph: onnx.IGraphProto | null | undefined): onnx.ITensorProto[] {
  if (!graph) return [];
  const out: onnx.ITensorProto[] = [...(graph.initializer ?? [])];
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      if (attr.t) out.push(attr.t);
      if (attr.g) out.push(...allTensors(attr.g));
      for (const g of attr.graphs ?? []) out.push(...allTensors(g));
    }
  }
  return out;
}

