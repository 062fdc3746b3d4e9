import * as ort from 'onnxruntime-node';
import { ConfigError, InfrastructureError } from '../errors.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'auto';

export interface SessionOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads; 0 lets ONNX Runtime choose (one per core). */
  threads?: number;
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
    throw new InfrastructureError(`ONNX Runtime rejected the model: ${(error as Error).message}`, file);
  }
}

export { ort };
