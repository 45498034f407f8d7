/**
 * Worker-thread side of the ONNX upscaler: onnxruntime-node runs a session synchronously on the
 * calling thread, so it runs here and the main thread (the other stages, progress, queue lock
 * renewals) stays free while a frame is upscaled.
 */
import { parentPort } from 'node:worker_threads';
import type { Chunk, UpscaleEngine } from '../types.js';
import { toWire } from './matte-rvm-protocol.js';
import { createOnnxUpscale } from './upscale-onnx.js';
import type { UpscaleFromWorker, UpscaleToWorker } from './upscale-onnx-protocol.js';

const port = parentPort;
if (!port) throw new Error('upscale-onnx-worker must run in a worker thread');

let engine: UpscaleEngine | undefined;
// Checked between tiles; terminating a worker inside onnxruntime's run would take the process down.
const cancel = new AbortController();
const send = (msg: UpscaleFromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', async (msg: UpscaleToWorker) => {
  try {
    if (msg.type === 'init') {
      engine = await createOnnxUpscale({ ...msg.opts, log: (text) => send({ type: 'log', text }) });
      send({ type: 'ready', info: engine.info() });
    } else if (msg.type === 'process') {
      if (!engine) throw new Error('not initialised');
      const chunk: Chunk = { ...msg.chunk, pixels: Buffer.from(msg.chunk.pixels.buffer, msg.chunk.pixels.byteOffset, msg.chunk.pixels.byteLength) };
      const out = await engine.process(chunk, { signal: cancel.signal, tempDir: '', log: (text, extra) => send({ type: 'log', text, extra }) });
      const pixels = new Uint8Array(out.pixels.buffer, out.pixels.byteOffset, out.pixels.byteLength);
      // Buffer.allocUnsafe may hand out a slice of a shared pool: transfer only a buffer of our own.
      const whole = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
      send({ type: 'done', id: msg.id, chunk: { ...out, pixels } }, whole ? [pixels.buffer as ArrayBuffer] : []);
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
