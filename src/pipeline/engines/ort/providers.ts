import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { isCpuVulkanDevice, vulkanDeviceList } from '../../../machine/tools.js';

/**
 * Cheap reasons not to try a provider at all. Trying CUDA without its library, or WebGPU on a
 * machine whose only Vulkan device is a CPU driver, costs seconds and sprays native error lines on
 * the user's terminal; both are known in advance. null = worth a try.
 */
export async function providerPrecheck(provider: string): Promise<string | null> {
  if (provider === 'cuda' && process.platform === 'linux') {
    const lib = path.join(onnxruntimeBinDir(), 'libonnxruntime_providers_cuda.so');
    if (!existsSync(lib)) return 'CUDA provider not installed (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a GPU host)';
  }
  if (provider === 'tensorrt' && process.platform === 'linux') {
    const lib = path.join(onnxruntimeBinDir(), 'libonnxruntime_providers_tensorrt.so');
    if (!existsSync(lib)) return 'TensorRT provider not installed (onnxruntime-node built or installed with TensorRT, and TensorRT 10 on the host; see README "Running on a GPU host")';
  }
  if (provider === 'webgpu' && process.platform === 'linux') {
    const devices = await vulkanDeviceList().catch(() => []);
    if (devices.length > 0 && devices.every(isCpuVulkanDevice)) {
      return `no GPU Vulkan device (only ${devices.map((d) => d.name).join(', ')})`;
    }
  }
  return null;
}

function onnxruntimeBinDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * The TensorRT provider builds an engine per model and input shape, which takes minutes; with a
 * cache it is built once per machine. onnxruntime-node passes TensorRT no options but the device
 * id, so the cache is set through the provider's documented environment variables, which it reads
 * when the session is created. Pure; an explicit setting in the environment wins.
 */
export function tensorrtCacheEnv(dataDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const want: Record<string, string> = {
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: path.join(dataDir, 'tensorrt-cache'),
    ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
  };
  return Object.fromEntries(Object.entries(want).filter(([k]) => env[k] === undefined || env[k] === ''));
}

/** Sets tensorrtCacheEnv in this process (before any session; worker threads inherit it). */
export function useTensorrtCache(dataDir: string): void {
  for (const [k, v] of Object.entries(tensorrtCacheEnv(dataDir))) process.env[k] = v;
}

/**
 * One line of an onnxruntime error, without its source-file prefixes, short enough for a stats
 * table. With provider 'cuda', a missing CUDA library also gets the install hint.
 */
export function ortReason(err: unknown, provider = ''): string {
  let msg = (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';
  // "/onnxruntime_src/.../webgpu_context.cc:136 onnxruntime::...<lambda()> x == y was false. Failed to get a WebGPU adapter: ..."
  msg = /\bwas false\.\s*(.+)$/.exec(msg)?.[1] ?? msg;
  // "[ONNXRuntimeError] : 1 : FAIL : actual message"
  msg = /\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*(.+)$/.exec(msg)?.[1] ?? msg;
  msg = msg.replace(/^\/\S+:\d+\s+/, '');
  if (provider === 'cuda' && /shared library|libcu|providers_cuda/i.test(msg)) {
    msg += ' (CUDA provider not installed: reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)';
  }
  return msg.length > 200 ? `${msg.slice(0, 197)}...` : msg;
}

/**
 * The session options every engine starts from: one provider alone (so a failure is that provider's),
 * full graph optimisation, onnxruntime's own logging quiet, and on the CPU `threads` (default: all
 * cores) for the operators.
 */
export function ortSessionOptions(provider: string, threads?: number): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
  if (provider === 'cpu') {
    options.intraOpNumThreads = Math.max(1, Math.floor(threads ?? os.availableParallelism()));
    options.interOpNumThreads = 1;
    // The stages share the cores: idle onnxruntime threads that spin-wait take them from the
    // upscaler and ffmpeg running at the same time (the bench saw the upscaler slow down by half).
    options.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  }
  return options;
}

/** A session proved by `check` (a tiny real inference); one that fails it is released, not leaked. */
export async function openCheckedSession(
  modelPath: string,
  options: ort.InferenceSession.SessionOptions,
  check: (session: ort.InferenceSession) => Promise<void>,
): Promise<ort.InferenceSession> {
  const session = await ort.InferenceSession.create(modelPath, options);
  try {
    await check(session);
    return session;
  } catch (err) {
    await session.release().catch(() => {});
    throw err;
  }
}

/**
 * Providers in the configured order (e.g. cuda → webgpu → cpu): each is skipped when providerPrecheck
 * knows it cannot work, else `attempt`ed; the first attempt that succeeds wins. `failures` says why
 * each earlier one was passed over ("cuda unavailable: ..."), for the engine's info().fallbackFrom;
 * the same reasons go to `log`, prefixed by `label`. `chosen` is undefined when none worked.
 */
export async function firstWorkingProvider<T>(opts: {
  providers: string[];
  label: string;
  attempt: (provider: string) => Promise<T>;
  /** One line for a failed attempt (ortReason, with or without the CUDA hint). */
  reason: (err: unknown, provider: string) => string;
  log: (msg: string) => void;
}): Promise<{ chosen: T | undefined; failures: string[] }> {
  const failures: string[] = [];
  for (const provider of opts.providers) {
    const skip = await providerPrecheck(provider);
    if (skip) {
      opts.log(`${opts.label}: ${provider} skipped: ${skip}`);
      failures.push(`${provider} unavailable: ${skip}`);
      continue;
    }
    try {
      return { chosen: await opts.attempt(provider), failures };
    } catch (err) {
      const why = opts.reason(err, provider);
      opts.log(`${opts.label}: ${provider} failed: ${why}`);
      failures.push(`${provider} unavailable: ${why}`);
    }
  }
  return { chosen: undefined, failures };
}
