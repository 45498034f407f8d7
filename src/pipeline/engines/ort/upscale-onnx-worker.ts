/**
 * Worker-thread side of the ONNX upscaler (see worker-serve.ts). Its per-chunk log lines go to
 * the chunk's logger on the main thread.
 */
import { createOnnxUpscale } from '../upscale-onnx.js';
import { serveOrtEngine } from './worker-serve.js';

serveOrtEngine(createOnnxUpscale, { forwardChunkLogs: true });
