/**
 * The worker-thread side of an onnxruntime engine. onnxruntime-node runs a session synchronously on
 * the thread that calls it; here that thread is the worker, so the main thread (the other stages'
 * hand-offs, progress, a queue's lock renewals) keeps running while a frame is processed. Each
 * engine's worker file is one call to serveOrtEngine with its factory.
 */
import { parentPort } from 'node:worker_threads';
import type { ChunkEngine } from '../../types.js';
import { fromWireChunk, toWire, toWireChunk, type FromWorker, type ToWorker } from './worker-protocol.js';

export interface ServeOptions {
  /** Send the engine's per-chunk log lines (ctx.log) to the main thread, or drop them. */
  forwardChunkLogs: boolean;
}

export function serveOrtEngine<Opts extends { log?: (msg: string) => void }>(
  create: (opts: Opts) => Promise<ChunkEngine>,
  { forwardChunkLogs }: ServeOptions,
): void {
  const port = parentPort;
  if (!port) throw new Error('an onnxruntime engine worker must run in a worker thread');

  let engine: ChunkEngine | undefined;
  // The engine checks this between frames (or tiles); the worker's event loop runs there too, so an
  // 'abort' message lands within one of them. (Terminating a worker inside onnxruntime's run would
  // take the whole process down, so the main thread never does that.)
  const cancel = new AbortController();
  const send = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
  const chunkLog = forwardChunkLogs ? (text: string, extra?: Record<string, unknown>) => send({ type: 'log', text, extra }) : () => {};

  port.on('message', async (msg: ToWorker<Omit<Opts, 'log'>>) => {
    try {
      if (msg.type === 'init') {
        engine = await create({ ...msg.opts, log: (text: string) => send({ type: 'log', text }) } as Opts);
        send({ type: 'ready', info: engine.info() });
      } else if (msg.type === 'process') {
        if (!engine) throw new Error('not initialised');
        const out = await engine.process(fromWireChunk(msg.chunk), { signal: cancel.signal, tempDir: '', log: chunkLog });
        const { chunk, transfer } = toWireChunk(out);
        send({ type: 'done', id: msg.id, chunk, info: engine.info() }, transfer);
      } else if (msg.type === 'abort') {
        cancel.abort();
      } else if (msg.type === 'close') {
        await engine?.close();
        engine = undefined;
        send({ type: 'closed' });
      }
    } catch (err) {
      send({ type: 'error', id: 'id' in msg ? msg.id : undefined, error: toWire(err) });
    }
  });
}
