import type { UpscaleEngine } from '../../types.js';
import type { OnnxUpscaleOptions } from '../upscale-onnx.js';
import { startOrtWorker } from './worker-host.js';

/**
 * The ONNX upscaler in a worker thread (upscale-onnx-worker.ts), with the UpscaleEngine contract.
 * Cancelling answers at once; the worker stops at its next tile.
 */
export async function createOnnxUpscaleThreaded(opts: OnnxUpscaleOptions): Promise<UpscaleEngine> {
  const { log, ...wireOpts } = opts;
  const engine = await startOrtWorker({
    script: 'upscale-onnx-worker.js',
    label: 'ONNX upscale',
    info: { engine: 'realesrgan (onnxruntime-node)', device: 'starting' },
    opts: wireOpts,
    log,
  });
  return { scale: opts.scale, ...engine };
}
