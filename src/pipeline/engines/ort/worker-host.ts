/**
 * The main-thread side of an onnxruntime engine that runs in a worker thread (see
 * worker-serve.ts for why): starts the worker, sends it the engine's options, and gives back a
 * ChunkEngine whose calls become messages. Both the RVM matte and the ONNX upscaler use it; they
 * differ only in the worker script, their names and their options.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../../../paths.js';
import { PipelineError } from '../../../errors.js';
import type { Chunk, ChunkEngine, EngineInfo, StageContext } from '../../types.js';
import { fromWire, fromWireChunk, type FromWorker, type ToWorker } from './worker-protocol.js';

export interface OrtWorkerSpec<Opts> {
  /** The compiled worker's file name, e.g. 'matte-rvm-worker.js'. */
  script: string;
  /** The engine's name in error messages, e.g. 'RVM' ("RVM worker crashed: ..."). */
  label: string;
  /** What info() says until the worker reports the engine's own. */
  info: EngineInfo;
  /** The engine's options, less its log (a function cannot cross the thread boundary). */
  opts: Opts;
  log?: (msg: string) => void;
}

/** The compiled worker beside this file; from the TypeScript sources (tests), the built copy in dist/. */
function workerScript(name: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, name);
  if (existsSync(sibling)) return sibling;
  return path.join(packageRoot, 'dist', 'pipeline', 'engines', 'ort', name);
}

/**
 * The engine in a worker thread, with the in-process engine's contract: chunks in order, and whatever
 * state the engine keeps (RVM's recurrent state) kept inside the worker from chunk to chunk. Chunks
 * cross as transferred buffers. Cancelling answers at once; the worker stops at its next frame or
 * tile and the engine is done (a cancelled job has no use for its state).
 */
export async function startOrtWorker<Opts>(spec: OrtWorkerSpec<Opts>): Promise<ChunkEngine> {
  const { label, log } = spec;
  const script = workerScript(spec.script);
  if (!existsSync(script)) throw new PipelineError('TOOL_FAILED', `the ${label} worker ${script} is missing (run \`npm run build\`)`, { tool: 'onnxruntime', detail: 'worker' });
  const worker = new Worker(script);
  let info = spec.info;
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
  worker.on('message', (msg: FromWorker) => {
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
        info = msg.info;
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        p?.resolve(fromWireChunk(msg.chunk));
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
  worker.on('error', (err) => failAll(new PipelineError('TOOL_FAILED', `${label} worker crashed: ${err.message}`, { tool: 'onnxruntime', detail: err.message })));
  worker.on('exit', (code) => failAll(new PipelineError('TOOL_FAILED', `${label} worker exited (${code})`, { tool: 'onnxruntime', detail: `exit ${code}` })));

  const post = (msg: ToWorker<Opts>, transfer: ArrayBuffer[] = []) => worker.postMessage(msg, transfer);
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = { resolve, reject };
      post({ type: 'init', opts: spec.opts });
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
      // Wait for the worker to finish its frame or tile and release the session: only then is it safe to end.
      const idle = new Promise<void>((resolve) => (onClosed = resolve));
      post({ type: 'close' });
      await Promise.race([idle, closed]);
      await worker.terminate();
    },
  };
}
