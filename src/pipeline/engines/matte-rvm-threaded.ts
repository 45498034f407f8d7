import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../../config/load.js';
import { PipelineError } from '../errors.js';
import type { Chunk, EngineInfo, MatteEngine, StageContext } from '../types.js';
import type { RvmMatteOptions } from './matte-rvm.js';
import { fromWire, type FromWorker, type ToWorker } from './matte-rvm-protocol.js';

/** The compiled worker beside this file; from the TypeScript sources (tests), the built copy in dist/. */
function workerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, 'matte-rvm-worker.js');
  if (existsSync(sibling)) return sibling;
  return path.join(packageRoot, 'dist', 'pipeline', 'engines', 'matte-rvm-worker.js');
}

/**
 * RVM in a worker thread, with the same contract as createRvmMatte: chunks in order, recurrent state
 * kept (inside the worker) from chunk to chunk. Cancelling answers at once; the worker stops at the
 * next frame and the engine is done (a cancelled job has no use for its state).
 */
export async function createRvmMatteThreaded(opts: RvmMatteOptions): Promise<MatteEngine> {
  const { log, ...wireOpts } = opts;
  const worker = new Worker(workerScript());
  let info: EngineInfo = { engine: 'rvm (onnxruntime-node)', device: 'starting' };
  let nextId = 0;
  let dead: Error | undefined;
  const pending = new Map<number, { resolve: (c: Chunk) => void; reject: (e: Error) => void }>();
  let onReady: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let exited = false;
  const closed = new Promise<void>((resolve) => worker.once('exit', () => {
    exited = true;
    resolve();
  }));
  let onClosed: (() => void) | undefined;

  const failAll = (err: Error) => {
    dead ??= err;
    onReady?.reject(err);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (msg: FromWorker) => {
    switch (msg.type) {
      case 'log':
        log?.(msg.text);
        break;
      case 'ready':
        info = msg.info;
        onReady?.resolve();
        break;
      case 'done': {
        info = msg.info;
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        p?.resolve({ ...msg.chunk, pixels: Buffer.from(msg.chunk.pixels.buffer, msg.chunk.pixels.byteOffset, msg.chunk.pixels.byteLength) });
        break;
      }
      case 'error': {
        const err = fromWire(msg.error);
        if (msg.id === undefined) onReady?.reject(err);
        else {
          pending.get(msg.id)?.reject(err);
          pending.delete(msg.id);
        }
        break;
      }
      case 'closed':
        onClosed?.();
        break;
    }
  });
  worker.on('error', (err) => failAll(new PipelineError('TOOL_FAILED', `RVM worker crashed: ${err.message}`, { tool: 'onnxruntime', detail: err.message })));
  worker.on('exit', (code) => failAll(new PipelineError('TOOL_FAILED', `RVM worker exited (${code})`, { tool: 'onnxruntime', detail: `exit ${code}` })));

  const post = (msg: ToWorker, transfer: ArrayBuffer[] = []) => worker.postMessage(msg, transfer);
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = { resolve, reject };
      post({ type: 'init', opts: wireOpts });
    });
  } catch (err) {
    await worker.terminate(); // nothing is running in it yet
    throw err;
  } finally {
    onReady = undefined;
  }

  return {
    info: () => info,
    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      if (ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
      if (dead) throw dead;
      const id = nextId++;
      const result = new Promise<Chunk>((resolve, reject) => pending.set(id, { resolve, reject }));
      const onAbort = () => {
        failAll(new PipelineError('CANCELLED', 'cancelled'));
        post({ type: 'abort' });
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      // A copy for the worker: the caller's buffer may be a view into something larger.
      const pixels = new Uint8Array(chunk.pixels);
      post({ type: 'process', id, chunk: { ...chunk, pixels } }, [pixels.buffer]);
      try {
        return await result;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
    async close(): Promise<void> {
      dead ??= new Error('closed');
      if (exited) return;
      // Wait for the worker to finish its frame and release the session: only then is it safe to end.
      const idle = new Promise<void>((resolve) => (onClosed = resolve));
      post({ type: 'close' });
      await Promise.race([idle, closed]);
      await worker.terminate();
    },
  };
}
