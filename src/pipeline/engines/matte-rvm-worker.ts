/**
 * Worker-thread side of the RVM engine. onnxruntime-node runs a session synchronously on the
 * thread that calls it; here that thread is this worker, so the main thread (the other stages'
 * hand-offs, progress, a queue's lock renewals) keeps running while a frame is matted.
 */
import { parentPort } from 'node:worker_threads';
import { createRvmMatte, type RvmMatteOptions } from './matte-rvm.js';
import type { Chunk, MatteEngine } from '../types.js';
import { toWire, type FromWorker, type ToWorker } from './matte-rvm-protocol.js';

const port = parentPort;
if (!port) throw new Error('matte-rvm-worker must run in a worker thread');

let engine: MatteEngine | undefined;
// The engine checks this between frames; the worker's event loop runs there too, so an 'abort'
// message lands within one frame. (Terminating a worker inside onnxruntime's run would take the
// whole process down, so the main thread never does that.)
const cancel = new AbortController();
const send = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', async (msg: ToWorker) => {
  try {
    if (msg.type === 'init') {
      const opts: RvmMatteOptions = { ...msg.opts, log: (text) => send({ type: 'log', text }) };
      engine = await createRvmMatte(opts);
      send({ type: 'ready', info: engine.info() });
    } else if (msg.type === 'process') {
      if (!engine) throw new Error('not initialised');
      const chunk: Chunk = { ...msg.chunk, pixels: Buffer.from(msg.chunk.pixels) };
      const out = await engine.process(chunk, { signal: cancel.signal, tempDir: '', log: () => {} });
      const pixels = new Uint8Array(out.pixels.buffer, out.pixels.byteOffset, out.pixels.byteLength);
      const whole = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
      send({ type: 'done', id: msg.id, chunk: { ...out, pixels }, info: engine.info() }, whole ? [pixels.buffer as ArrayBuffer] : []);
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
