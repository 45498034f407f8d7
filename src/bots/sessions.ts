/**
 * Everything the bots keep in Redis, in one place: menu sessions, users' languages, groups'
 * settings, "already sent" markers and the records "Another background" needs. Keys:
 *
 *   `${prefix}:bot:${platform}:menu:${session}`   a menu session (JSON), 24 h after its last change
 *   `${prefix}:bot:${platform}:lang:${userId}`    the language a user chose with /lang
 *   `${prefix}:bot:${platform}:chat:${chatId}:auto` '1' when a group enhances every video
 *   `${prefix}:bot:${platform}:sent:${jobId}`     '1' once a result was uploaded (a retried delivery skips it)
 *   `${prefix}:bot:${platform}:kept:${jobId}`     a job whose input was kept (Another background, Render all), as long as outputs live
 *   `${prefix}:bot:discord:msg:${messageId}`      Discord only: which token edits that message (discord/message-records.ts)
 *
 * Menu sessions live in Redis (the user's downloaded file stays on this machine's disk), so a
 * restarted bot still understands the buttons of its menus; presses on one session are serialised
 * in-process so that a double-tapped Start submits once.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { localeFrom, type Locale } from '../i18n/messages.js';
import { travellingProbeSchema } from '../media/probe.js';
import { enhanceOptionsSchema, localeSchema, requesterSchema } from '../queue/jobs.js';
import { RVM_VARIANTS } from '../machine/rvm-variants.js';
import { MENU_ASPECTS } from './menu.js';

export const sessionSchema = z.object({
  id: z.string(),
  requester: requesterSchema,
  menuMessageId: z.string(),
  file: z.string(),
  name: z.string(),
  info: z.object({ durationS: z.number(), width: z.number(), height: z.number() }),
  /** The download's probe, handed to the producer so the upload is probed once on its way. */
  probe: travellingProbeSchema.optional(),
  backgrounds: z.array(z.string()),
  state: z.object({
    page: z.number().int(),
    background: z.number().int().nullable(),
    scale: z.union([z.literal(1), z.literal(2), z.literal(4)]),
    upscaleOnly: z.boolean(),
    keepCutout: z.boolean(),
    // Sessions saved before these options existed read as "not chosen".
    model: z.enum(['general', 'anime']).nullable().default(null),
    mattingModel: z.enum(RVM_VARIANTS).nullable().default(null),
    aspect: z.enum(MENU_ASPECTS).nullable().default(null),
    preview: z.boolean().default(false),
    exportAlpha: z.boolean().default(false),
  }),
  jobId: z.string().optional(),
  closed: z.boolean().default(false),
  /** "recompose": Another background for a finished job's kept cut-out. */
  mode: z.enum(['enhance', 'recompose']).default('enhance'),
  /** recompose: the delivered job whose kept input gets the new background. */
  from: z.string().optional(),
});
export type Session = z.infer<typeof sessionSchema>;

/**
 * A job whose input the bot kept (keep cut-out, or a preview): what "Another background" and
 * "Render all" submit again, kept as long as the job's outputs.
 */
export const keptJobSchema = z.object({
  keptInput: z.string(),
  name: z.string(),
  requester: requesterSchema,
  background: z.string(),
  options: enhanceOptionsSchema.partial(),
});
export type KeptJob = z.infer<typeof keptJobSchema>;

/** A menu nobody touched for this long is forgotten. */
export const SESSION_TTL_S = 24 * 3600;
const SENT_TTL_S = 7 * 24 * 3600;

/** Pure: the bots' key names (see the list above). */
export function botKeys(queuePrefix: string, platform: string) {
  const base = `${queuePrefix}:bot:${platform}`;
  return {
    session: (id: string) => `${base}:menu:${id}`,
    lang: (userId: string) => `${base}:lang:${userId}`,
    auto: (chatId: string) => `${base}:chat:${chatId}:auto`,
    sent: (jobId: string) => `${base}:sent:${jobId}`,
    kept: (jobId: string) => `${base}:kept:${jobId}`,
  };
}

export class BotStore {
  private readonly keys: ReturnType<typeof botKeys>;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly redis: Redis,
    queuePrefix: string,
    platform: string,
  ) {
    this.keys = botKeys(queuePrefix, platform);
  }

  async saveSession(s: Session): Promise<void> {
    await this.redis.set(this.keys.session(s.id), JSON.stringify(s), 'EX', SESSION_TTL_S);
  }
  async loadSession(id: string): Promise<Session | null> {
    const raw = await this.redis.get(this.keys.session(id));
    if (!raw) return null;
    const parsed = sessionSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  /** The user's chosen language, else the one their client reports. */
  async localeOf(userId: string, clientLanguage?: string): Promise<Locale> {
    const parsed = localeSchema.safeParse(await this.redis.get(this.keys.lang(userId)));
    return parsed.success ? parsed.data : localeFrom(clientLanguage);
  }
  async setLocale(userId: string, locale: Locale): Promise<void> {
    await this.redis.set(this.keys.lang(userId), locale);
  }

  async autoEnhance(chatId: string): Promise<boolean> {
    return (await this.redis.get(this.keys.auto(chatId))) === '1';
  }
  async setAutoEnhance(chatId: string, on: boolean): Promise<void> {
    if (on) await this.redis.set(this.keys.auto(chatId), '1');
    else await this.redis.del(this.keys.auto(chatId));
  }

  async wasSent(jobId: string): Promise<boolean> {
    return Boolean(await this.redis.get(this.keys.sent(jobId)));
  }
  async markSent(jobId: string): Promise<void> {
    await this.redis.set(this.keys.sent(jobId), '1', 'EX', SENT_TTL_S);
  }

  async saveKept(jobId: string, record: KeptJob, ttlS: number): Promise<void> {
    await this.redis.set(this.keys.kept(jobId), JSON.stringify(record), 'EX', Math.max(1, Math.round(ttlS)));
  }
  async loadKept(jobId: string): Promise<KeptJob | null> {
    const raw = await this.redis.get(this.keys.kept(jobId));
    const parsed = raw ? keptJobSchema.safeParse(JSON.parse(raw)) : null;
    return parsed?.success ? parsed.data : null;
  }

  /** Runs `fn` after every earlier call for the same key (in this process) has settled. */
  serialise<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }
}
