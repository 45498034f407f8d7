/**
 * Every failure a user can see has a code, so that the CLI and the bots can word it in the user's
 * language (see src/i18n/messages.ts) and the queue can tell bad input (never retried) from
 * transient trouble (retried).
 */
export const ERROR_CODES = [
  'INPUT_MISSING',
  'NOT_A_VIDEO',
  'CORRUPT',
  'NO_FRAMES',
  'TOO_LONG',
  'TOO_LARGE',
  'UNSUPPORTED',
  'BACKGROUND_MISSING',
  'TOOL_MISSING',
  'MODEL_MISSING',
  'TOOL_FAILED',
  'GPU_OUT_OF_MEMORY',
  'CANCELLED',
  /** `backgrounds generate`: params.reason says which failure (see the GENERATOR_FAILED texts). */
  'GENERATOR_FAILED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Bad input: retrying cannot help. */
const permanent: ReadonlySet<ErrorCode> = new Set([
  'INPUT_MISSING',
  'NOT_A_VIDEO',
  'CORRUPT',
  'NO_FRAMES',
  'TOO_LONG',
  'TOO_LARGE',
  'UNSUPPORTED',
  'BACKGROUND_MISSING',
  'CANCELLED',
]);

export class PipelineError extends Error {
  readonly code: ErrorCode;
  /** Values the localised message needs (limits, names). */
  readonly params: Record<string, string | number>;

  constructor(code: ErrorCode, message: string, params: Record<string, string | number> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PipelineError';
    this.code = code;
    this.params = params;
  }

  get retryable(): boolean {
    return !permanent.has(this.code);
  }
}

export function isPipelineError(err: unknown): err is PipelineError {
  return err instanceof PipelineError;
}

/** Turns an abort into our CANCELLED error, whatever library raised it. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new PipelineError('CANCELLED', 'cancelled', {}, { cause: signal.reason });
}
