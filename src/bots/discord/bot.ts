/**
 * The Discord bot (discord.js): logs in over the gateway, registers its application commands, turns
 * interactions into BotFlow calls, downloads attachments, and delivers results from the
 * `deliver-discord` queue. It only uses interactions, so it needs no privileged intent (not even
 * Message Content): the Guilds intent keeps discord.js's channel cache sane, nothing more.
 *
 * Every interaction is acknowledged inside Discord's 3 s: cheap refusals (attachment type and size,
 * allowed servers, the user's limits, the queue) are answered at once as ephemeral replies; anything
 * slower is deferred first.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Client, Events, GatewayIntentBits, Routes, type REST } from 'discord.js';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { createHash } from 'node:crypto';
import { backgroundLabel, localeFrom, type Locale } from '../../i18n/messages.js';
import type { Requester } from '../../queue/jobs.js';
import { startDeliverWorker } from '../../queue/deliver.js';
import type { Service } from '../../service/context.js';
import { DownloadTooBig, downloadWithRetry } from '../download.js';
import { BotFlow, type MenuPreset } from '../flow.js';
import { botLibrary, type BotLibrary } from '../library-warmup.js';
import { parseCallback } from '../menu.js';
import { botTexts, escapeHtml, reasonText } from '../texts.js';
import { autocompleteChoices, commandDefinitions, ENHANCE_MESSAGE_COMMAND } from './commands.js';
import {
  canManageGuild,
  checkAttachment,
  commandOptions,
  DEFAULT_UPLOAD_LIMIT_BYTES,
  interactionChannel,
  interactionSchema,
  InteractionType,
  interactionUser,
  MB,
  resolvedAttachment,
  scaleChoice,
  targetMessage,
  uploadLimitOf,
  videoAttachmentOf,
  type Attachment,
  type Interaction,
} from './parse.js';
import { fitContent, htmlToMarkdown } from './render.js';
import { DiscordUi, type InteractionRef } from './ui.js';

export interface DiscordBot {
  client: Client;
  flow: BotFlow;
  ui: DiscordUi;
  library: BotLibrary;
  applicationId: string;
  close(): Promise<void>;
}

const Callback = { Pong: 1, Message: 4, DeferredMessage: 5, DeferredUpdate: 6, Autocomplete: 8 } as const;
const EPHEMERAL = 1 << 6;
const SWEEP_EVERY_MS = 30 * 60 * 1000;
const READY_TIMEOUT_MS = 60_000;


export async function startDiscordBot(service: Service, log: Logger): Promise<DiscordBot> {
  const dc = service.config.discord;
  const capBytes = dc.uploadLimitMb * MB;
  const downloadLimit = dc.downloadLimitMb * MB;
  // The REST timeout covers a whole request, an upload included: discord.js's 15 s aborts big videos.
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: dc.apiUrl, timeout: dc.restTimeoutS * 1000 } });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('discord: no READY from the gateway')), READY_TIMEOUT_MS);
    client.once(Events.ClientReady, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await client.login(dc.token);
  await ready;
  const applicationId = client.application?.id;
  if (!applicationId) throw new Error('discord: READY carried no application id');
  const rest: REST = client.rest;
  rest.on('rateLimited', (info) => log.info({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'discord 429: waiting'));

  const library = botLibrary(service.config, log);
  const ui = new DiscordUi(rest, service.redis, `${service.config.queue.prefix}:bot:discord`, { editIntervalMs: dc.editIntervalMs, tokenLifetimeMs: dc.tokenLifetimeS * 1000 }, log);
  const flow = new BotFlow(service, {
    platform: 'discord',
    ui,
    uploadLimitBytes: Math.min(DEFAULT_UPLOAD_LIMIT_BYTES, capBytes),
    uploadLimitFor: (r) => {
      const n = Number(r.reply?.uploadLimit);
      return Number.isFinite(n) && n > 0 ? Math.min(n, capBytes) : Math.min(DEFAULT_UPLOAD_LIMIT_BYTES, capBytes);
    },
    linkWithStats: true,
    pollIntervalMs: dc.pollIntervalMs,
    menuPageSize: dc.menuPageSize,
    incomingDir: path.join(service.config.dataDir, 'incoming', 'discord'),
    library,
    log,
  });

  await registerCommands(service, rest, applicationId, log);

  const callback = (i: Interaction, body: unknown) => rest.post(Routes.interactionCallback(i.id, i.token), { body, auth: false });
  const reply = (i: Interaction, html: string) =>
    callback(i, { type: Callback.Message, data: { content: fitContent(htmlToMarkdown(html)), flags: EPHEMERAL, allowed_mentions: { parse: [] } } });
  const refOf = (i: Interaction): InteractionRef => ({ applicationId: i.application_id, token: i.token, expiresAt: Date.now() + dc.tokenLifetimeS * 1000, channelId: interactionChannel(i) });

  const defer = (i: Interaction, ephemeral: boolean) => callback(i, { type: Callback.DeferredMessage, data: ephemeral ? { flags: EPHEMERAL } : {} });

  /** Attachment CDN URLs are signed and expire: the file is fetched now, never the URL kept. */
  const download = (a: Attachment, target: string) => downloadWithRetry(a.url, target, { limitBytes: downloadLimit, log });

  function requesterOf(i: Interaction, locale: Locale): Requester {
    const user = interactionUser(i);
    return {
      platform: 'discord',
      chatId: interactionChannel(i),
      ...(i.guild_id ? { guildId: i.guild_id } : {}),
      userId: user.id,
      userName: user.global_name ?? user.username,
      locale,
      // Where the result goes decides how big an upload may be.
      reply: { uploadLimit: String(uploadLimitOf(i, capBytes)) },
    };
  }

  /**
   * /enhance and "Enhance video": what the payload alone decides is answered at once; everything
   * else (the library, the user's limits, the download) comes after the deferral, so Discord's 3 s
   * never depend on this machine's load or on the first run's library.
   */
  async function request(i: Interaction, locale: Locale, attachment: Attachment | undefined, preset: MenuPreset): Promise<void> {
    const t = botTexts(locale);
    const requester = requesterOf(i, locale);
    if (!attachment) return void (await reply(i, t.failed(reasonText({ code: 'NOT_A_VIDEO' }, locale))));
    const check = checkAttachment(attachment, downloadLimit);
    if (!check.ok) {
      const html = check.reason === 'not-video' ? t.failed(reasonText({ code: 'NOT_A_VIDEO' }, locale)) : t.failed(t.attachmentTooBig({ sizeMb: check.sizeMb, limitMb: dc.downloadLimitMb }));
      return void (await reply(i, html));
    }
    // Ephemeral while checking and downloading: a refusal found now stays between the bot and the user.
    await defer(i, true);
    const handle = ui.open(refOf(i), locale, { holdPhoto: true });
    if (preset.background !== undefined) {
      const names = (await library.list()).map((e) => e.name);
      const hit = names.find((n) => n.toLowerCase() === preset.background!.toLowerCase());
      if (!hit) {
        const available = names.map((n) => backgroundLabel(n, locale)).join(', ');
        return void (await ui.note(handle, t.failed(reasonText({ code: 'BACKGROUND_MISSING', params: { name: preset.background, available } }, locale))));
      }
      preset = { ...preset, background: hit };
    }
    try {
      await flow.precheck(requester);
    } catch (err) {
      return void (await ui.note(handle, t.failed(reasonText(err, locale))));
    }
    await ui.note(handle, t.downloading);
    const target = await flow.incomingPath(attachment.filename);
    try {
      await download(attachment, target);
    } catch (err) {
      await rm(target, { force: true });
      log.warn({ err: (err as Error).message, userId: requester.userId }, 'attachment download failed');
      await ui.note(handle, err instanceof DownloadTooBig ? t.failed(t.attachmentTooBig({ sizeMb: attachment.size / MB, limitMb: dc.downloadLimitMb })) : t.failed(t.attachmentDownloadFailed));
      return;
    }
    await flow.offerMenu({ requester, file: target, name: attachment.filename, replyTo: handle, preset });
  }

  async function command(i: Interaction, locale: Locale): Promise<void> {
    const t = botTexts(locale);
    const name = i.data?.name;
    if (name === ENHANCE_MESSAGE_COMMAND) {
      const msg = targetMessage(i);
      const a = videoAttachmentOf(msg);
      if (!a) return void (await reply(i, t.failed(msg && msg.attachments.length > 0 ? reasonText({ code: 'NOT_A_VIDEO' }, locale) : t.noVideoInMessage)));
      return request(i, locale, a, {});
    }
    const { sub, options } = commandOptions(i);
    if (name === 'enhance') {
      const bg = options.get('background')?.value;
      const scale = scaleChoice(options.get('scale')?.value);
      const keep = options.get('keep_cutout')?.value;
      const preset: MenuPreset = {
        ...(typeof bg === 'string' && bg.trim() !== '' ? { background: bg.trim(), start: true } : {}),
        ...(scale.scale ? { scale: scale.scale } : scale.noUpscale ? { scale: 1 as const } : {}),
        ...(typeof keep === 'boolean' ? { keepCutout: keep } : {}),
      };
      return request(i, locale, resolvedAttachment(i, options.get('video')?.value), preset);
    }
    // The rest is for members with Manage Server; Discord hides them from others by default, but a
    // server's own command settings can show them, so the permission is checked here too.
    if (!canManageGuild(i.member?.permissions)) return void (await reply(i, t.manageServerOnly));
    if (name !== 'bg') {
      if (name !== 'stats' && name !== 'queue') return void (await reply(i, t.menuExpired));
      await defer(i, true);
      return void (await ui.note(ui.open(refOf(i), locale), name === 'stats' ? await flow.statsText(locale) : await flow.queueOverview(locale)));
    }
    if (sub === 'remove') {
      await defer(i, true);
      return void (await ui.note(ui.open(refOf(i), locale), await flow.removeBackground(String(options.get('name')?.value ?? ''), locale)));
    }
    if (sub === 'list') {
      await defer(i, false);
      await flow.sendGallery(interactionChannel(i), locale, ui.open(refOf(i), locale));
      return;
    }
    if (sub === 'add') {
      const a = resolvedAttachment(i, options.get('file')?.value);
      const bgName = String(options.get('name')?.value ?? '').trim();
      if (!a) return void (await reply(i, t.bgUsage));
      if (a.size > downloadLimit) return void (await reply(i, t.failed(t.attachmentTooBig({ sizeMb: a.size / MB, limitMb: dc.downloadLimitMb }))));
      await defer(i, true);
      const handle = ui.open(refOf(i), locale);
      const target = await flow.incomingPath(a.filename);
      try {
        await download(a, target);
      } catch {
        await rm(target, { force: true });
        return void (await ui.note(handle, t.failed(t.attachmentDownloadFailed)));
      }
      await ui.note(handle, await flow.addBackground(target, bgName, locale));
    }
  }

  async function component(i: Interaction, locale: Locale): Promise<void> {
    const customId = i.data?.custom_id ?? '';
    const data = customId.startsWith('sel:') ? (i.data?.values?.[0] ?? '') : customId;
    const cb = parseCallback(data);
    if (!cb) return void (await reply(i, botTexts(locale).menuExpired));
    // Acknowledged at once; the flow edits the message (a submit can take longer than 3 s).
    await callback(i, { type: Callback.DeferredUpdate });
    const ref = refOf(i);
    if (i.message) await ui.refresh(i.message.id, ref).catch((err: unknown) => log.warn({ err }, 'could not refresh the message token'));
    const user = interactionUser(i);
    const result = await flow
      .press(cb, { userId: user.id, isAdmin: async () => canManageGuild(i.member?.permissions) }, locale)
      .catch((err: unknown) => {
        log.error({ err, customId }, 'button failed');
        return { text: reasonText(err, locale).slice(0, 190), alert: true };
      });
    if (result.text) await ui.ephemeral(ref, escapeHtml(result.text));
  }

  async function autocomplete(i: Interaction, locale: Locale): Promise<void> {
    const { options } = commandOptions(i);
    const focused = [...options.values()].find((o) => o.focused);
    // Autocomplete cannot be deferred: the names of the last listing, or at most 1.5 s of waiting
    // for the first one; a fresh listing follows for the next keystroke.
    const fresh = library.list().then((l) => l.map((e) => e.name));
    fresh.catch((err: unknown) => log.warn({ err }, 'background list failed'));
    const known = library.knownNames();
    const names = known.length > 0 ? known : await Promise.race([fresh, new Promise<readonly string[]>((r) => setTimeout(() => r([]), 1500).unref())]);
    const choices = autocompleteChoices(names, String(focused?.value ?? ''), (n) => backgroundLabel(n, locale));
    await callback(i, { type: Callback.Autocomplete, data: { choices } });
  }

  async function handle(raw: unknown): Promise<void> {
    const parsed = interactionSchema.safeParse(raw);
    if (!parsed.success) {
      log.warn({ issues: parsed.error.issues.slice(0, 3) }, 'discord interaction not understood');
      return;
    }
    const i = parsed.data;
    const user = interactionUser(i);
    // The client's language, read from the payload: no lookup before the acknowledgement.
    const locale = localeFrom(i.locale);
    const ilog = log.child({ interaction: i.id, userId: user.id, guildId: i.guild_id });
    try {
      if (i.type === InteractionType.ApplicationCommand) await command(i, locale);
      else if (i.type === InteractionType.MessageComponent) await component(i, locale);
      else if (i.type === InteractionType.Autocomplete) await autocomplete(i, locale);
    } catch (err) {
      ilog.error({ err }, 'discord interaction failed');
      if (i.type === InteractionType.Autocomplete) return;
      // The user hears of it: a follow-up when the interaction was acknowledged, else the answer.
      const html = botTexts(locale).failed(reasonText(err, locale));
      await ui.ephemeral(refOf(i), html).catch(() => reply(i, html)).catch((e: unknown) => ilog.warn({ err: e }, 'could not tell the user'));
    }
  }

  // Raw gateway payloads: read with our own schema (parse.ts), answered over REST.
  client.ws.on('INTERACTION_CREATE' as never, (data: unknown) => void handle(data));
  client.on(Events.Error, (err) => log.error({ err }, 'discord client error'));

  const deliverer: Worker = startDeliverWorker(service.config, () => service.redisHandle.connection(), 'discord', (d) => flow.deliver(d), log);
  await flow.resumeTracking().catch((err: unknown) => log.warn({ err }, 'could not resume tracking'));
  await flow.sweepIncoming();
  const sweeper = setInterval(() => void flow.sweepIncoming().catch(() => {}), SWEEP_EVERY_MS);
  sweeper.unref();
  log.info({ user: client.user?.tag, apiUrl: dc.apiUrl }, 'discord bot ready');

  return {
    client,
    flow,
    ui,
    library,
    applicationId,
    async close() {
      clearInterval(sweeper);
      flow.close();
      await deliverer.close();
      ui.close();
      await client.destroy();
    },
  };
}

/**
 * Registration replaces the whole set: on the listed servers at once, else globally. It is skipped
 * when the definitions' hash is the one last registered for that place (Discord rate-limits command
 * writes hard, and a restart should not touch them). A failure is logged: the bot still answers
 * the commands registered before.
 */
async function registerCommands(service: Service, rest: REST, applicationId: string, log: Logger): Promise<void> {
  const defs = commandDefinitions();
  const hash = createHash('sha256').update(JSON.stringify(defs)).digest('hex');
  const guilds = service.config.discord.guildIds;
  const places = guilds.length > 0 ? guilds.map((g) => ({ scope: g, route: Routes.applicationGuildCommands(applicationId, g) })) : [{ scope: 'global', route: Routes.applicationCommands(applicationId) }];
  for (const { scope, route } of places) {
    const key = `${service.config.queue.prefix}:bot:discord:commands:${applicationId}:${scope}`;
    try {
      if ((await service.redis.get(key)) === hash) {
        log.info({ applicationId, scope }, 'discord commands unchanged: not registered again');
        continue;
      }
      await rest.put(route, { body: defs });
      await service.redis.set(key, hash);
      log.info({ applicationId, scope, commands: defs.length }, 'discord commands registered');
    } catch (err) {
      log.error({ err, applicationId, scope }, 'discord command registration failed: the bot goes on with the commands Discord has');
    }
  }
}
