/**
 * The bots role of `dancelift start`: the background library's one warm-up, then each chat platform
 * whose token is set. Only start-up configuration can stop it (a refused token, with one message
 * that names the setting); once running, nothing a request does ends the process.
 */
import type { Logger } from 'pino';
import type { Service } from '../service/context.js';
import { botLibrary } from './library-warmup.js';
import { chatPlatforms } from './platforms.js';

/** Thrown for bad bot configuration at start-up; its message is the whole story for the user. */
export class BotStartError extends Error {}

/** Starts the role; resolves with its stop function. */
export async function startBotsRole(service: Service, log: Logger): Promise<() => Promise<void>> {
  // Started now, awaited by nobody here: the bots answer while the defaults are being made.
  const library = botLibrary(service.config, log.child({ role: 'bots' }));
  // A promise someone forgot to catch must not end a service that serves many users; it is a bug
  // to fix, so it is logged loudly.
  const onUnhandled = (reason: unknown) => log.error({ err: reason }, 'unhandled rejection (the service goes on)');
  process.on('unhandledRejection', onUnhandled);
  const running: Array<{ name: string; close(): Promise<void> }> = [];
  const stop = async () => {
    for (const r of running.reverse()) await r.close().catch((err: unknown) => log.warn({ err, bot: r.name }, 'bot did not stop cleanly'));
    // A stop (or a refused token) does not wait for ffmpeg to finish the defaults.
    library.stop();
    process.off('unhandledRejection', onUnhandled);
  };
  try {
    for (const p of Object.values(chatPlatforms)) {
      // Each bot starts only when its token is set, so `start` works before any chat account exists.
      if (!p.enabled(service.config)) {
        log.info(`${p.name} bot skipped: ${p.tokenSetting} is not set`);
        continue;
      }
      const bot = await p.start(service, log.child({ bot: p.name })).catch((err: unknown) => {
        throw new BotStartError(`${p.name} bot could not start: ${startReason(err)} (check ${p.tokenSetting} and the ${p.name} settings)`, { cause: err });
      });
      running.push({ name: p.name, close: () => bot.close() });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

/** The platform's own words for a refusal (401 Unauthorized, "An invalid token was provided"). */
function startReason(err: unknown): string {
  const e = err as { description?: string; message?: string; code?: string | number };
  return e.description ?? e.message ?? String(err);
}
