/** Worker-thread side of the RVM engine (see worker-serve.ts). Per-chunk log lines stay here. */
import { createRvmMatte } from '../matte-rvm.js';
import { serveOrtEngine } from './worker-serve.js';

serveOrtEngine(createRvmMatte, { forwardChunkLogs: false });
