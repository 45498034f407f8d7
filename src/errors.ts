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

export const REFUSAL_CODES = ['DISK_FULL', 'QUEUE_FULL', 'USER_BUSY', 'USER_DAILY_LIMIT', 'CHAT_NOT_ALLOWED'] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/**
 * The service says no (not an error of the job): why, in English, with the values a localised text
 * needs in `params` (`limit`, `retryAfterS` when known, and per code: `waiting`, `inFlight`, `today`,
 * `freeMb`, `neededMb`, `chatId`).
 */
export class ServiceRefusal extends Error {
  readonly code: RefusalCode;
  /** When a retry may succeed, in seconds; absent when unknown (USER_BUSY: when a job of theirs ends). */
  readonly retryAfterS?: number;
  readonly params: Record<string, string | number>;

  constructor(code: RefusalCode, message: string, params: Record<string, string | number> = {}, retryAfterS?: number) {
    super(message);
    this.name = 'ServiceRefusal';
    this.code = code;
    if (retryAfterS !== undefined) this.retryAfterS = Math.max(1, Math.ceil(retryAfterS));
    this.params = this.retryAfterS !== undefined ? { ...params, retryAfterS: this.retryAfterS } : { ...params };
  }
}

export function isServiceRefusal(err: unknown): err is ServiceRefusal {
  return err instanceof ServiceRefusal;
}

/** "3 h 5 min", "42 s": English durations for the messages. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return rest ? `${h} h ${rest} min` : `${h} h`;
}
