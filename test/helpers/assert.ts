import { expect } from 'vitest';
import { PipelineError } from '../../src/errors.js';

/** Awaits a promise (or calls a function) that must fail with a PipelineError, and returns that error. */
export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<PipelineError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error('expected a rejection');
}
