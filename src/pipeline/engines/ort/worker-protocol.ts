/**
 * Messages between an onnxruntime engine on the main thread (worker-host.ts) and the same engine
 * in its worker thread (worker-serve.ts). One protocol for every engine: only the init options
 * differ, hence the type parameter.
 */
import type { Chunk, EngineInfo } from '../../types.js';
import { PipelineError, type ErrorCode } from '../../../errors.js';

/** Chunks cross the thread boundary as plain data: a Uint8Array (transferred, not copied). */
export type WireChunk = Omit<Chunk, 'pixels'> & { pixels: Uint8Array };

export type ToWorker<Opts> =
  | { type: 'init'; opts: Opts }
  | { type: 'process'; id: number; chunk: WireChunk }
  | { type: 'abort' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  /** With `extra`: a per-chunk line, for the chunk's own logger; without: the engine's log. */
  | { type: 'log'; text: string; extra?: Record<string, unknown> }
  | { type: 'done'; id: number; chunk: WireChunk; info: EngineInfo }
  | { type: 'error'; id?: number; error: WireError }
  | { type: 'closed' };

/** A PipelineError keeps its code and params across the boundary (structured clone drops the class). */
export interface WireError {
  message: string;
  code?: ErrorCode;
  params?: Record<string, string | number>;
}

export function toWire(err: unknown): WireError {
  if (err instanceof PipelineError) return { message: err.message, code: err.code, params: err.params };
  return { message: err instanceof Error ? err.message : String(err) };
}

export function fromWire(e: WireError): Error {
  return e.code ? new PipelineError(e.code, e.message, e.params ?? {}) : new Error(e.message);
}

/** A Uint8Array view of a Buffer, and the ArrayBuffers that may be transferred with it. */
export function toWireChunk(chunk: Chunk): { chunk: WireChunk; transfer: ArrayBuffer[] } {
  const pixels = new Uint8Array(chunk.pixels.buffer, chunk.pixels.byteOffset, chunk.pixels.byteLength);
  // Buffer.allocUnsafe may hand out a slice of a shared pool: transfer only a buffer of our own.
  const whole = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
  return { chunk: { ...chunk, pixels }, transfer: whole ? [pixels.buffer as ArrayBuffer] : [] };
}

/** The received chunk as a Buffer over the same memory (no copy). */
export function fromWireChunk(chunk: WireChunk): Chunk {
  return { ...chunk, pixels: Buffer.from(chunk.pixels.buffer, chunk.pixels.byteOffset, chunk.pixels.byteLength) };
}
