import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { logger } from '../log.js';
import { cancelOutcomeText, errorMessage, localeFrom, stageLabel, type Locale } from '../i18n/messages.js';
import { openService, type Service } from '../service/context.js';
import { submitEnhance } from '../queue/producer.js';
import { cancelJob } from '../queue/cancel.js';
import { openEvents, queuePosition } from '../queue/queues.js';
import { progressSchema, type EnhanceOptions, type JobResult, type Requester } from '../queue/jobs.js';
import { jsonResultLine } from './run-output.js';
import type { SubmitFlags } from './args.js';

const localeOf = (lang?: string): Locale => localeFrom(lang ?? process.env.LC_ALL ?? process.env.LC_MESSAGES ?? process.env.LANG);

/** How long an orderly stop may take before `start` gives up on it (a hand-back needs Redis). */
const stopGraceMs = (config: Config) => config.queue.lockDurationMs + 30_000;

/**
 * `dancelift start`: runs until SIGINT/SIGTERM, then stops cleanly (running jobs handed back, the
 * embedded Redis shut down last). A role that cannot start ends it at once: what was opened is
 * closed, one line says why, the exit code is 1. One signal always stops it (a stop that hangs gives
 * up after the lock duration and 30 s); a second signal exits at once.
 */
export async function runStart(config: Config): Promise<number> {
  // Listen before starting anything: a SIGTERM that arrives while the roles start (the worker may
  // already hold a job) must still lead to a clean hand-back, not a kill.
  // `on`, not `once`: execa's child clean-up (signal-exit) re-raises a signal when it finds no other
  // listener, and a `once` listener has already removed itself by then, so a SIGTERM during a job
  // killed the process before the hand-back. A second signal means "now".
  const stop = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stop.signal.aborted) {
        logger.warn({ signal }, 'second signal: exiting without handing jobs back');
        process.exit(130);
      }
      stop.abort(new Error(`stopped by ${signal} while starting`));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  let running;
  try {
    // Loaded here, not at the top: the roles (web server, worker, bots) are a third of the start-up
    // of every short command (submit, jobs, cancel) that never runs them; grammY and discord.js load
    // only when the bots role is asked for.
    const { startRoles } = await import('../service/start.js');
    running = await startRoles(config, logger, stop.signal, { bots: async (service, log) => (await import('../bots/role.js')).startBotsRole(service, log) });
  } catch (err) {
    if (stop.signal.aborted) {
      logger.info('stopped while starting');
      process.exit(0);
    }
    process.stderr.write(`dancelift start: ${errorMessage(err, localeOf())}\n`);
    process.exit(1);
  }
  logger.info({ signal: await stopped }, 'shutting down');
  const giveUp = setTimeout(() => {
    logger.error({ afterMs: stopGraceMs(config) }, 'stop did not finish: exiting without it');
    process.exit(1);
  }, stopGraceMs(config));
  giveUp.unref();
  await running.close();
  clearTimeout(giveUp);
  return 0;
}

function cliRequester(locale: Locale): Requester {
  return { platform: 'cli', chatId: os.hostname(), userId: os.userInfo().username, userName: os.userInfo().username, locale };
}

/** The line a finished job prints: the same as `enhance --json`, plus the download link. */
export function submitResultLine(input: string, service: Service, r: { result: JobResult; link: string }): string {
  const out = (rel: string) => service.storage.resolveOutput(rel);
  const { exports, preview } = r.result;
  const line = JSON.parse(
    jsonResultLine({
      input,
      output: out(r.result.output),
      ok: true,
      durationS: r.result.durationS,
      width: r.result.width,
      height: r.result.height,
      stats: r.result.stats,
      ...(exports ? { exports: { webm: out(exports.webm), mov: out(exports.mov) } } : {}),
      ...(preview ? { preview } : {}),
      reused: r.result.reused,
    }),
  ) as Record<string, unknown>;
  return JSON.stringify({ ...line, link: r.link });
}

/** Pure: the job options a `submit` command line asks for. */
export function submitOptions(flags: SubmitFlags): Partial<EnhanceOptions> {
  return {
    scale: flags.scale,
    upscaler: flags.upscaler,
    model: flags.model,
    matting: flags.matting,
    mattingModel: flags.mattingModel,
    keepCutout: flags.keepCutout,
    preview: flags.preview,
    aspect: flags.aspect,
    fit: flags.fit,
    ground: flags.ground,
    shadow: flags.shadow,
    exportAlpha: flags.export === 'alpha' ? true : undefined,
  };
}

const POLL_MS = 500;

/**
 * Resolves after POLL_MS, or sooner when BullMQ says the job moved (progress, completed, failed):
 * an instant repeat is answered as soon as it is done, not at the next poll.
 */
function jobWaker(service: Service) {
  const events = openEvents(service.config, () => service.redisHandle.connection());
  let watched: string | undefined;
  let wake = () => {};
  const onEvent = ({ jobId }: { jobId: string }) => {
    if (jobId === watched) wake();
  };
  for (const e of ['progress', 'completed', 'failed'] as const) events.on(e, onEvent);
  return {
    watch(jobId: string) {
      watched = jobId;
    },
    next: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    close: () => events.close().catch(() => {}),
  };
}

/** `dancelift submit`: enqueue on the running service; with --wait, follow the job to its end. */
export async function runSubmit(file: string, flags: SubmitFlags, config: Config): Promise<number> {
  const locale = localeOf(flags.lang);
  const service = await openService(config, { startEmbedded: false });
  // Listening before the job exists: its end cannot slip past between the submit and the first look.
  const waker = flags.wait ? jobWaker(service) : undefined;
  try {
    const { jobId, position, joined } = await submitEnhance(service.producer, {
      file,
      requester: cliRequester(locale),
      background: flags.bg ?? config.backgrounds.default,
      options: submitOptions(flags),
      allowBackgroundPaths: true,
    });
    if (joined) process.stderr.write(`the same request is already running as ${jobId}: following it\n`);
    if (!flags.wait) {
      process.stdout.write(flags.json ? `${JSON.stringify({ jobId, position: position ?? null })}\n` : `queued ${jobId}${position ? ` (position ${position})` : ''}\n`);
      return 0;
    }
    process.stderr.write(`queued ${jobId}${position ? ` (position ${position})` : ''}\n`);
    waker?.watch(jobId);
    let last = '';
    for (;;) {
      // The state first, then the job: read the other way round, a job that ends in between reads
      // as completed with the return value of before (none).
      const state = await service.queues.enhance.getJobState(jobId);
      const job = await service.queues.enhance.getJob(jobId);
      if (!job || state === 'unknown') {
        process.stdout.write(`${JSON.stringify({ input: file, output: null, ok: false, error: errorMessage({ code: 'CANCELLED' }, locale), jobId })}\n`);
        return 1;
      }
      if (state === 'completed') {
        process.stdout.write(`${submitResultLine(file, service, job.returnvalue as { result: JobResult; link: string })}\n`);
        return 0;
      }
      if (state === 'failed') {
        const reason = job.failedReason?.replace(/^[A-Z_]+: /, '') ?? 'failed';
        const code = /^([A-Z_]+): /.exec(job.failedReason ?? '')?.[1];
        const message = code ? errorMessage({ code, params: {} }, locale) : reason;
        process.stdout.write(`${JSON.stringify({ input: file, output: null, ok: false, error: message, jobId })}\n`);
        return 1;
      }
      let status: string;
      if (state === 'waiting' || state === 'prioritized' || state === 'delayed') {
        const pos = await queuePosition(service.queues.enhance, jobId);
        status = `queued${pos ? ` (position ${pos})` : ''}`;
      } else {
        const p = progressSchema.safeParse(job.progress);
        status = p.success
          ? `${p.data.stage === 'queued' || p.data.stage === 'done' ? p.data.stage : stageLabel(p.data.stage, locale)} ${p.data.percent} %${p.data.fps ? ` · ${p.data.fps} fps` : ''}`
          : state;
      }
      if (status !== last) {
        process.stderr.write(`${status}\n`);
        last = status;
      }
      await waker!.next();
    }
  } finally {
    await waker?.close();
    await service.close();
  }
}

/** `dancelift jobs`: what is in the queue. */
export async function runJobs(config: Config, json: boolean): Promise<number> {
  const service = await openService(config, { startEmbedded: false });
  try {
    const q = service.queues.enhance;
    const jobs = [
      ...(await q.getJobs(['active'], 0, -1, true)),
      ...(await q.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true)),
      ...(await q.getJobs(['completed', 'failed'], 0, 19, false)),
    ].filter((j) => j !== undefined);
    const rows = await Promise.all(
      jobs.map(async (job) => {
        const state = await job.getState();
        const progress = progressSchema.safeParse(job.progress);
        const r = job.data?.requester as Requester | undefined;
        return {
          id: job.id,
          state,
          position: state === 'waiting' || state === 'prioritized' ? await queuePosition(q, job.id!) : undefined,
          progress: progress.success ? progress.data : undefined,
          requester: r ? `${r.platform}:${r.userName ?? r.userId}` : '?',
          input: job.data?.input?.name as string | undefined,
          submitted: new Date(job.timestamp).toISOString(),
          ...(state === 'failed' ? { reason: job.failedReason } : {}),
        };
      }),
    );
    if (json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    } else if (rows.length === 0) {
      process.stdout.write('no jobs\n');
    } else {
      for (const r of rows) {
        const where = r.position ? `#${r.position}` : r.progress ? `${r.progress.stage} ${r.progress.percent} %` : '';
        process.stdout.write(`${String(r.id).padEnd(14)} ${r.state.padEnd(10)} ${where.padEnd(16)} ${r.requester.padEnd(22)} ${path.basename(r.input ?? '')}\n`);
      }
    }
    return 0;
  } finally {
    await service.close();
  }
}

/** `dancelift cancel <id>...` */
export async function runCancel(config: Config, ids: string[]): Promise<number> {
  const locale = localeOf();
  const service = await openService(config, { startEmbedded: false });
  let code = 0;
  try {
    for (const id of ids) {
      const outcome = await cancelJob(service.cancel, id);
      process.stdout.write(`${id}: ${cancelOutcomeText(outcome, locale)}\n`);
      if (outcome === 'finished' || outcome === 'not-found') code = 1;
    }
    return code;
  } finally {
    await service.close();
  }
}
