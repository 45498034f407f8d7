import { ZodError } from 'zod';
import { isPipelineError } from '../errors.js';
import type { WireError } from './jobs.js';
import { UnsafePathError } from '../storage/storage.js';

export interface Failure {
  error: WireError;
  /** Another attempt may succeed (a tool crashed, the GPU ran out of memory). */
  retryable: boolean;
}

const NO_SPACE = /\bENOSPC\b|No space left on device/i;

/** Whether the error (or one of its causes, or a tool's stderr in its params) says the disk is full. */
function outOfSpace(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; params?: Record<string, unknown>; cause?: unknown };
  if (e.code === 'ENOSPC') return true;
  if (typeof e.message === 'string' && NO_SPACE.test(e.message)) return true;
  if (e.params && Object.values(e.params).some((v) => typeof v === 'string' && NO_SPACE.test(v))) return true;
  return outOfSpace(e.cause, depth + 1);
}

/**
 * Pure: what a job's failure means for the user and for the queue. Data that fails the job schema, an
 * input path the storage refuses, a full disk and a missing model are final (retrying cannot help, and a full disk
 * retried would fill again); they carry codes of their own so the requester gets a clear message.
 * Pipeline errors keep their code and their own idea of retryable; anything else is a retryable
 * TOOL_FAILED.
 */
export function classifyFailure(err: unknown): Failure {
  if (err instanceof ZodError) {
    const detail = err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { error: { code: 'JOB_DATA_INVALID', message: `job data does not match the schema: ${detail}`, params: {} }, retryable: false };
  }
  if (err instanceof UnsafePathError) return { error: { code: 'INPUT_REFUSED', message: err.message, params: {} }, retryable: false };
  if (outOfSpace(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return { error: { code: 'DISK_FULL', message: `out of disk space: ${message}`, params: {} }, retryable: false };
  }
  // A model that is not on this host does not appear by trying again (an offline host cannot fetch
  // it): one attempt, and the requester is told at once instead of after every retry.
  if (isPipelineError(err)) return { error: { code: err.code, message: err.message, params: err.params }, retryable: err.retryable && err.code !== 'MODEL_MISSING' };
  const message = err instanceof Error ? err.message : String(err);
  return { error: { code: 'TOOL_FAILED', message, params: { tool: 'pipeline', detail: message } }, retryable: true };
}
