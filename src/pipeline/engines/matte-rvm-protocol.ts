import type { Chunk, EngineInfo } from '../types.js';
import type { RvmMatteOptions } from './matte-rvm.js';
import { PipelineError, type ErrorCode } from '../errors.js';

/** Chunks cross the thread boundary as plain data: a Uint8Array (transferred, not copied). */
export type WireChunk = Omit<Chunk, 'pixels'> & { pixels: Uint8Array };

export type ToWorker =
  | { type: 'init'; opts: Omit<RvmMatteOptions, 'log'> }
  | { type: 'process'; id: number; chunk: WireChunk }
  | { type: 'abort' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'log'; text: string }
  | { type: 'done'; id: number; chunk: WireChunk; info: EngineInfo }
  | { type: 'error'; id?: number; error: WireError }
  | { type: 'closed' };

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
