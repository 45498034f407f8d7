/** Messages between the ONNX upscaler and its worker thread; chunks and errors travel as in the RVM worker. */
import type { EngineInfo } from '../types.js';
import type { WireChunk, WireError } from './matte-rvm-protocol.js';
import type { OnnxUpscaleOptions } from './upscale-onnx.js';

export type UpscaleToWorker =
  | { type: 'init'; opts: Omit<OnnxUpscaleOptions, 'log'> }
  | { type: 'process'; id: number; chunk: WireChunk }
  | { type: 'abort' }
  | { type: 'close' };

export type UpscaleFromWorker =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'log'; text: string; extra?: Record<string, unknown> }
  | { type: 'done'; id: number; chunk: WireChunk }
  | { type: 'error'; id?: number; error: WireError }
  | { type: 'closed' };
