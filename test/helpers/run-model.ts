import * as ort from 'onnxruntime-node';

/** Runs model bytes once in a fresh ONNX Runtime session (released afterwards); returns every output. */
export async function runModel(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}
