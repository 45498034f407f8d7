import { expect } from 'vitest';
import { PipelineError } from '../../src/pipeline/errors.js';

/** Awaits a promise that must reject with a PipelineError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<PipelineError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error('expected a rejection');
}
