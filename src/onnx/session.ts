import * as ort from 'onnxruntime-node';
import { BugError, ConfigError, InfrastructureError, InputError, singleLine } from '../errors.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'auto';

export interface SessionOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads; 0 lets ONNX Runtime choose (one per core). */
  threads?: number;
  /**
   * Who built the graph: 'model' (the user's model, possibly with extra outputs) or 'heatgate' (the augmented graph,
   * the cut-out head). ONNX Runtime refusing the first is input data (exit 3), refusing the second a heatgate bug (70).
   */
  origin?: 'model' | 'heatgate';
}

export interface OpenedSession {
  session: ort.InferenceSession;
  /** The provider that actually runs the model. */
  provider: 'cpu' | 'cuda';
}

/**
 * Creates an inference session. onnxruntime-node does not fall back by itself: `['cuda','cpu']` throws at create
 * when the CUDA provider libraries are missing, so 'auto' tries CUDA and retries on CPU.
 */
export async function openSession(model: Uint8Array, file: string, options: SessionOptions = {}): Promise<OpenedSession> {
  const provider = options.provider ?? 'cpu';
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 0,
    logSeverityLevel: 3,
  };
  if (provider === 'cuda' || provider === 'auto') {
    try {
      return { session: await ort.InferenceSession.create(model, { ...base, executionProviders: ['cuda', 'cpu'] }), provider: 'cuda' };
    } catch (error) {
      if (provider === 'cuda') {
        throw new InfrastructureError(`cannot start the CUDA execution provider: ${(error as Error).message}`, file);
      }
    }
  } else if (provider !== 'cpu') {
    throw new ConfigError(`unknown execution provider "${String(provider)}" (expected cpu, cuda or auto)`);
  }
  try {
    return { session: await ort.InferenceSession.create(model, { ...base, executionProviders: ['cpu'] }), provider: 'cpu' };
  } catch (error) {
    const reason = singleLine((error as Error).message);
    if (options.origin === 'heatgate') {
      throw new BugError(`ONNX Runtime rejected the graph heatgate built from the model (the model itself loads): ${reason}`, file);
    }
    throw new InputError(`ONNX Runtime rejected the model: ${reason}`, file);
  }
}

export { ort };
