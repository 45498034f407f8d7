import pino, { type Logger } from 'pino';

/** One logger for the process; children carry the job id so every line can be traced to its job. */
export const logger: Logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: undefined,
  redact: { paths: ['*.token', '*.password', '*.secret', 'config.provision'], remove: true },
}, pino.destination(2));

export function jobLogger(jobId: string): Logger {
  return logger.child({ jobId });
}
export type { Logger };
