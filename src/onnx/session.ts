import * as ort from 'onnxruntime-node';
import { BugError, ConfigError, InfrastructureError, InputError, singleLine } from '../errors.ts';
import { errorText } from '../redact.ts';
import { explainCudaFailure, ortReason, PROVIDER_CHOICES, providerOption, type ConcreteProvider, type ExecutionProvider } from './providers.ts';

export { PROVIDER_CHOICES, type ConcreteProvider, type ExecutionProvider } from './providers.ts';

export interface SessionOptions {
  provider?: ExecutionProvider;
  /** CUDA device ordinal (cuda and auto only). */
  deviceId?: number;
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
  provider: ConcreteProvider;
  /** Why that one, for logs and summaries: "requested", or auto's choice and the reason CUDA was not taken. */
  reason: string;
}

/**
 * Creates an inference session. onnxruntime-node does not fall back by itself: `['cuda','cpu']` throws at create
 * when the CUDA provider libraries are missing, so 'auto' tries CUDA and retries on CPU. An explicitly requested
 * provider that cannot start is an infrastructure error (exit 4), not a silent CPU run.
 */
export async function openSession(model: Uint8Array, file: string, options: SessionOptions = {}): Promise<OpenedSession> {
  const provider = options.provider ?? 'cpu';
  if (!PROVIDER_CHOICES.includes(provider)) {
    throw new ConfigError(`unknown execution provider "${String(provider)}" (expected ${PROVIDER_CHOICES.join(', ')})`);
  }
  const { deviceId } = options;
  if (deviceId !== undefined) {
    if (!Number.isInteger(deviceId) || deviceId < 0) throw new ConfigError(`--device-id must be a non-negative integer, got ${deviceId}`);
    if (provider !== 'cuda' && provider !== 'auto') throw new ConfigError(`--device-id applies to --provider cuda or auto, not ${provider}`);
  }
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 0,
    logSeverityLevel: 3,
  };
  const device = deviceId !== undefined ? ` device ${deviceId}` : '';
  if (provider === 'cuda' || provider === 'webgpu' || provider === 'auto') {
    const accelerator: ConcreteProvider = provider === 'auto' ? 'cuda' : provider;
    try {
      const session = await ort.InferenceSession.create(model, { ...base, executionProviders: [providerOption(accelerator, deviceId), 'cpu'] });
      return { session, provider: accelerator, reason: provider === 'auto' ? `auto: CUDA provider loaded${device}` : `requested${device}` };
    } catch (error) {
      const why = accelerator === 'cuda' ? explainCudaFailure(error) : ortReason(error);
      if (provider !== 'auto') throw new InfrastructureError(`cannot start the ${accelerator === 'cuda' ? 'CUDA' : 'WebGPU'} execution provider${device}: ${why}`);
      return { session: await openCpu(model, file, base, options.origin), provider: 'cpu', reason: `auto: CUDA provider not available: ${why}` };
    }
  }
  return { session: await openCpu(model, file, base, options.origin), provider: 'cpu', reason: 'requested' };
}

async function openCpu(model: Uint8Array, file: string, base: ort.InferenceSession.SessionOptions, origin: SessionOptions['origin']): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model, { ...base, executionProviders: ['cpu'] });
  } catch (error) {
    const reason = singleLine(errorText(error));
    if (origin === 'heatgate') {
      throw new BugError(`ONNX Runtime rejected the graph heatgate built from the model (the model itself loads): ${reason}`, file);
    }
    throw new InputError(`ONNX Runtime rejected the model: ${reason}`, file);
  }
}

export { ort };
