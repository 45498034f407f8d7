import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../../config/load.js';
import { PipelineError } from '../errors.js';
import type { Chunk, EngineInfo, StageContext, UpscaleEngine } from '../types.js';
import { fromWire } from './matte-rvm-protocol.js';
import type { OnnxUpscaleOptions } from './upscale-onnx.js';
import type { UpscaleFromWorker, UpscaleToWorker } from './upscale-onnx-protocol.js';

/** The compiled worker beside this file; from the TypeScript sources (tests), the built copy in dist/. */
function workerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, 'upscale-onnx-worker.js');
  if (existsSync(sibling)) return sibling;
  return path.join(packageRoot, 'dist', 'pipeline', 'engines', 'upscale-onnx-worker.js');
}

/**
 * The ONNX upscaler in a worker thread, with the UpscaleEngine contract. Chunks cross the thread
 * boundary as transferred buffers (moved, not copied, on the way back). Cancelling answers at once;
 * the worker stops at its next tile.
 */
export async function createOnnxUpscaleThreaded(opts: OnnxUpscaleOptions): Promise<UpscaleEngine> {
  const { log, ...wireOpts } = opts;
  const script = workerScript();
  if (!existsSync(script)) throw new PipelineError('TOOL_FAILED', `the ONNX upscale worker ${script} is missing (run \`npm run build\`)`, { tool: 'onnxruntime', detail: 'worker' });
  const worker = new Worker(script);
  let info: EngineInfo = { engine: 'realesrgan (onnxruntime-node)', device: 'starting' };
  let nextId = 0;
  let dead: Error | undefined;
  let exited = false;
  const pending = new Map<number, { resolve: (c: Chunk) => void; reject: (e: Error) => void; ctx: StageContext }>();
  let onReady: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let onClosed: (() => void) | undefined;
  const closed = new Promise<void>((resolve) => worker.once('exit', () => {
    exited = true;
    resolve();
  }));

  const failAll = (err: Error) => {
    dead ??= err;
    onReady?.reject(err);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (msg: UpscaleFromWorker) => {
    switch (msg.type) {
      case 'log': {
        // Per-chunk lines go to the chunk's own logger (with its fields); the rest to the engine's.
        const ctx = [...pending.values()][0]?.ctx;
        if (msg.extra && ctx) ctx.log(msg.text, msg.extra);
        else log?.(msg.text);
        break;
      }
      case 'ready':
        info = msg.info;
        onReady?.resolve();
        break;
      case 'done': {
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
  worker.on('error', (err) => failAll(new PipelineError('TOOL_FAILED', `ONNX upscale worker crashed: ${err.message}`, { tool: 'onnxruntime', detail: err.message })));
  worker.on('exit', (code) => failAll(new PipelineError('TOOL_FAILED', `ONNX upscale worker exited (${code})`, { tool: 'onnxruntime', detail: `exit ${code}` })));

  const post = (msg: UpscaleToWorker, transfer: ArrayBuffer[] = []) => worker.postMessage(msg, transfer);
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = { resolve, reject };
      post({ type: 'init', opts: wireOpts });
    });
  } catch (err) {
    await worker.terminate(); // nothing runs in it yet
    throw err;
  } finally {
    onReady = undefined;
  }

  return {
    scale: opts.scale,
    info: () => info,
    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      if (ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
      if (dead) throw dead;
      const id = nextId++;
      const result = new Promise<Chunk>((resolve, reject) => pending.set(id, { resolve, reject, ctx }));
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
      // Let the worker finish its tile and release the session before ending it.
      const idle = new Promise<void>((resolve) => (onClosed = resolve));
      post({ type: 'close' });
      await Promise.race([idle, closed]);
      await worker.terminate();
    },
  };
}
