import type { MatteEngine } from '../../types.js';
import type { RvmMatteOptions } from '../matte-rvm.js';
import { startOrtWorker } from './worker-host.js';

/**
 * RVM in a worker thread (matte-rvm-worker.ts), with the same contract as createRvmMatte: chunks in
 * order, recurrent state kept (inside the worker) from chunk to chunk. Cancelling answers at once;
 * the worker stops at the next frame and the engine is done.
 */
export async function createRvmMatteThreaded(opts: RvmMatteOptions): Promise<MatteEngine> {
  const { log, ...wireOpts } = opts;
  return startOrtWorker({
    script: 'matte-rvm-worker.js',
    label: 'RVM',
    info: { engine: opts.variant ? `rvm ${opts.variant} (onnxruntime-node)` : 'rvm (onnxruntime-node)', device: 'starting' },
    opts: wireOpts,
    log,
  });
}
