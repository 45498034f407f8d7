/**
 * The Telegram bot (grammY): turns updates into BotFlow calls, downloads the user's file, and
 * delivers results from the `deliver-telegram` queue. Long polling; `telegram.apiRoot` points it at
 * the cloud Bot API or a self-hosted telegram-bot-api server (which the tests replace by a fake).
 */
import { copyFile, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Bot, GrammyError, type Context } from 'grammy';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Locale } from '../../i18n/messages.js';
import type { Requester } from '../../queue/jobs.js';
import { startDeliverWorker } from '../../queue/deliver.js';
import type { Service } from '../../service/context.js';
import { BotFlow } from '../flow.js';
import { botLibrary, type BotLibrary } from '../library-warmup.js';
import { parseCallback } from '../menu.js';
import { botTexts, reasonText } from '../texts.js';
import { findMedia, isAdminStatus, isPhoto, MB, overDownloadLimit, parseCommand, type FoundMedia } from './parse.js';
import { retryTransformer, TelegramUi } from './ui.js';

export interface TelegramBot {
  bot: Bot;
  flow: BotFlow;
  library: BotLibrary;
  username: string;
  close(): Promise<void>;
}

class TooBigToDownload extends Error {
  constructor(readonly sizeMb: number) {
    super('file too big to download');
  }
}

const SWEEP_EVERY_MS = 30 * 60 * 1000;

export async function startTelegramBot(service: Service, log: Logger): Promise<TelegramBot> {
  const tg = service.config.telegram;
  const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
  bot.api.config.use(retryTransformer({ log }));
  await bot.init();
  const username = bot.botInfo.username;
  const library = botLibrary(service.config, log);
  const ui = new TelegramUi(bot.api, tg.editIntervalMs, log);
  const flow = new BotFlow(service, {
    platform: 'telegram',
    ui,
    uploadLimitBytes: tg.uploadLimitMb * MB,
    pollIntervalMs: tg.pollIntervalMs,
    menuPageSize: tg.menuPageSize,
    incomingDir: path.join(service.config.dataDir, 'incoming', 'telegram'),
    library,
    log,
  });

  const localeOf = (ctx: Context): Promise<Locale> => flow.localeOf(String(ctx.from?.id ?? ''), ctx.from?.language_code);
  const requesterOf = async (ctx: Context): Promise<Requester> => ({
    platform: 'telegram',
    chatId: String(ctx.chat!.id),
    userId: String(ctx.from!.id),
    ...(ctx.from?.username || ctx.from?.first_name ? { userName: ctx.from.username ?? ctx.from.first_name } : {}),
    locale: await localeOf(ctx),
  });
  const reply = (ctx: Context, html: string, replyTo?: number) =>
    ui.send(String(ctx.chat!.id), { html }, replyTo !== undefined ? { replyTo: String(replyTo) } : {});

  /** Downloads a Telegram file: cloud Bot API by URL; a --local server gives an absolute path here. */
  async function download(found: FoundMedia, target: string): Promise<void> {
    if (overDownloadLimit(found.media.file_size, tg.downloadLimitMb, tg.localMode)) throw new TooBigToDownload(found.media.file_size! / MB);
    let file;
    try {
      file = await bot.api.getFile(found.media.file_id);
    } catch (err) {
      if (err instanceof GrammyError && /file is too big/i.test(err.description)) throw new TooBigToDownload((found.media.file_size ?? 0) / MB);
      throw err;
    }
    const filePath = file.file_path;
    if (!filePath) throw new Error('getFile returned no file_path');
    if (path.isAbsolute(filePath)) {
      if (!tg.localMode) throw new Error('the Bot API server returned a local path: set TELEGRAM_LOCAL_MODE=true');
      // The server's own copy stays where it is; the job gets its own.
      await copyFile(filePath, target);
      return;
    }
    const url = `${tg.apiRoot}/file/bot${tg.token}/${filePath.split('/').map(encodeURIComponent).join('/')}`;
    // Network trouble and server errors are retried; a 4xx (gone, forbidden) is not.
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(url);
        if (!res.ok || !res.body) {
          const err = new Error(`file download failed: HTTP ${res.status}`);
          if (res.status < 500) Object.assign(err, { final: true });
          throw err;
        }
        await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(target));
        return;
      } catch (err) {
        if ((err as { final?: boolean }).final || attempt >= 3) throw err;
        log.warn({ err: (err as Error).message, attempt }, 'file download failed: retrying');
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  }

  /**
   * "typing…" in the chat until the request has its answer: the first sign of life comes before
   * anything is looked up or downloaded, and it lasts through a slow download or a first run's
   * library (Telegram shows an action for 5 s).
   */
  function keepTyping(chatId: number): () => void {
    const send = () => void bot.api.sendChatAction(chatId, 'typing').catch((err: unknown) => log.debug({ err, chatId }, 'chat action failed'));
    send();
    const timer = setInterval(send, 4500);
    return () => clearInterval(timer);
  }

  /** A video (or any file: ffprobe decides) from `msg`, asked for by the sender of `ctx`. */
  async function request(ctx: Context, msg: unknown, replyTo: number): Promise<void> {
    const stopTyping = keepTyping(ctx.chat!.id);
    try {
      await requestWork(ctx, msg, replyTo);
    } catch (err) {
      // Whatever broke, the user hears of it; the bot goes on with the next update.
      log.error({ err, chatId: ctx.chat?.id, update: ctx.update.update_id }, 'request failed');
      const locale = await localeOf(ctx).catch((): Locale => 'en');
      await reply(ctx, botTexts(locale).failed(reasonText(err, locale)), replyTo).catch(() => {});
    } finally {
      stopTyping();
    }
  }

  async function requestWork(ctx: Context, msg: unknown, replyTo: number): Promise<void> {
    const requester = await requesterOf(ctx);
    const t = botTexts(requester.locale);
    const found = findMedia(msg);
    if (!found) {
      await reply(ctx, t.failed(reasonText({ code: 'NOT_A_VIDEO' }, requester.locale)), replyTo);
      return;
    }
    try {
      await flow.precheck(requester);
    } catch (err) {
      await reply(ctx, t.failed(reasonText(err, requester.locale)), replyTo);
      return;
    }
    if (overDownloadLimit(found.media.file_size, tg.downloadLimitMb, tg.localMode)) {
      await reply(ctx, t.tooBigToDownload({ sizeMb: found.media.file_size! / MB, limitMb: tg.downloadLimitMb }), replyTo);
      return;
    }
    const target = await flow.incomingPath(found.name);
    try {
      await download(found, target);
    } catch (err) {
      await rm(target, { force: true });
      if (err instanceof TooBigToDownload) await reply(ctx, t.tooBigToDownload({ sizeMb: err.sizeMb, limitMb: tg.downloadLimitMb }), replyTo);
      else {
        log.warn({ err, chatId: requester.chatId }, 'download failed');
        await reply(ctx, t.failed(t.downloadFailed), replyTo);
      }
      return;
    }
    await flow.offerMenu({ requester, file: target, name: found.name, replyTo: String(replyTo) });
  }

  /**
   * grammY runs updates one after another; a download or a submit must not hold up everyone else's
   * buttons, so handlers start their work and return.
   */
  const background = (what: string, work: () => Promise<unknown>) => {
    void work().catch((err: unknown) => log.error({ err }, `${what} failed`));
  };

  bot.on('message', async (ctx, next) => {
    const msg = ctx.message;
    const isPrivate = ctx.chat.type === 'private';
    const hasFile = findMedia(msg) !== null;
    const captionCmd = parseCommand(msg.caption, username);
    if (hasFile && (isPrivate || captionCmd?.command === 'enhance' || (captionCmd === null && (await flow.autoEnhance(String(ctx.chat.id)))))) {
      background('request', () => request(ctx, msg, msg.message_id));
      return;
    }
    if (isPrivate && isPhoto(msg)) {
      const locale = await localeOf(ctx);
      await reply(ctx, botTexts(locale).failed(reasonText({ code: 'NOT_A_VIDEO' }, locale)), msg.message_id);
      return;
    }
    const cmd = parseCommand(msg.text, username);
    if (!cmd) return next();
    const locale = await localeOf(ctx);
    const t = botTexts(locale);
    switch (cmd.command) {
      case 'start':
      case 'help':
        await reply(
          ctx,
          t.help({
            maxDurationS: service.config.pipeline.maxDurationS,
            downloadLimitMb: tg.localMode ? null : tg.downloadLimitMb,
            uploadLimitMb: tg.uploadLimitMb,
            perDay: service.config.limits.perUserPerDay,
          }),
        );
        return;
      case 'enhance': {
        const target = msg.reply_to_message;
        if (target && findMedia(target)) background('request', () => request(ctx, target, target.message_id));
        else await reply(ctx, t.groupHint, msg.message_id);
        return;
      }
      case 'cancel':
        background('cancel', async () => reply(ctx, await flow.cancelAll(await requesterOf(ctx))));
        return;
      case 'queue':
        await reply(ctx, await flow.queueText(await requesterOf(ctx)));
        return;
      case 'bg': {
        const [sub, ...rest] = cmd.args.split(/\s+/);
        const arg = rest.join(' ').trim();
        if (!sub) {
          background('gallery', () => flow.sendGallery(String(ctx.chat.id), locale, String(msg.message_id)));
          return;
        }
        if (sub !== 'add' && sub !== 'remove') {
          await reply(ctx, t.bgUsage, msg.message_id);
          return;
        }
        if (!tg.admins.includes(String(ctx.from.id))) {
          await reply(ctx, t.ownerOnly, msg.message_id);
          return;
        }
        if (sub === 'remove') {
          await reply(ctx, await flow.removeBackground(arg, locale), msg.message_id);
          return;
        }
        const source = msg.reply_to_message;
        const largestPhoto = source?.photo?.at(-1);
        const found = largestPhoto ? { media: largestPhoto, kind: 'document' as const, name: 'photo.jpg' } : source ? findMedia(source) : null;
        if (!found || !arg) {
          await reply(ctx, t.bgUsage, msg.message_id);
          return;
        }
        background('bg add', async () => {
          const target = await flow.incomingPath(found.name);
          try {
            await download(found, target);
          } catch (err) {
            await rm(target, { force: true });
            await reply(ctx, err instanceof TooBigToDownload ? t.tooBigToDownload({ sizeMb: err.sizeMb, limitMb: tg.downloadLimitMb }) : t.failed(t.downloadFailed), msg.message_id);
            return;
          }
          await reply(ctx, await flow.addBackground(target, arg, locale), msg.message_id);
        });
        return;
      }
      case 'stats':
        await reply(ctx, tg.admins.includes(String(ctx.from.id)) ? await flow.statsText(locale) : t.ownerOnly, msg.message_id);
        return;
      case 'settings': {
        if (isPrivate) {
          await reply(ctx, t.settingsGroupsOnly);
          return;
        }
        const chatId = String(ctx.chat.id);
        const m = /^auto\s+(on|off)$/i.exec(cmd.args);
        if (m) {
          const member = await bot.api.getChatMember(ctx.chat.id, ctx.from.id).catch(() => null);
          if (!isAdminStatus(member?.status)) {
            await reply(ctx, t.settingsAdminsOnly, msg.message_id);
            return;
          }
          await flow.setAutoEnhance(chatId, m[1].toLowerCase() === 'on');
        }
        await reply(ctx, t.settings({ auto: await flow.autoEnhance(chatId) }));
        return;
      }
      case 'lang': {
        const want = cmd.args.toLowerCase();
        const chosen: Locale | null = /^(zh|cn|中文|chinese)/.test(want) ? 'zh' : /^(en|english)/.test(want) ? 'en' : null;
        if (!chosen) {
          await reply(ctx, t.langPrompt);
          return;
        }
        await flow.setLocale(String(ctx.from.id), chosen);
        await reply(ctx, botTexts(chosen).langSet);
        return;
      }
      default:
        return next();
    }
  });

  bot.on('callback_query:data', async (ctx) => {
    const locale = await localeOf(ctx);
    const cb = parseCallback(ctx.callbackQuery.data);
    if (!cb) {
      await ctx.answerCallbackQuery({ text: botTexts(locale).menuExpired });
      return;
    }
    const chatId = ctx.chat?.id;
    const userId = ctx.from.id;
    background('button', async () => {
      // Whatever happens, the press is answered: an unanswered one spins on the user's screen.
      const result = await flow.press(cb, {
        userId: String(userId),
        isAdmin: async () => {
          if (chatId === undefined || ctx.chat?.type === 'private') return false;
          const member = await bot.api.getChatMember(chatId, userId).catch(() => null);
          return isAdminStatus(member?.status);
        },
      }, locale).catch((err: unknown) => {
        log.error({ err, data: ctx.callbackQuery.data }, 'button failed');
        return { text: reasonText(err, locale).slice(0, 190), alert: true };
      });
      await ctx.answerCallbackQuery(result.text ? { text: result.text, show_alert: result.alert ?? false } : {});
    });
  });

  bot.catch((err) => log.error({ err: err.error, update: err.ctx.update.update_id }, 'telegram update failed'));

  const commands = (locale: Locale) =>
    Object.entries(botTexts(locale).commands).map(([command, description]) => ({ command, description }));
  await bot.api.setMyCommands(commands('en')).catch((err: unknown) => log.warn({ err }, 'setMyCommands failed'));
  await bot.api.setMyCommands(commands('zh'), { language_code: 'zh' }).catch((err: unknown) => log.warn({ err }, 'setMyCommands (zh) failed'));

  const deliverer: Worker = startDeliverWorker(service.config, () => service.redisHandle.connection(), 'telegram', (d) => flow.deliver(d), log);
  await flow.resumeTracking().catch((err: unknown) => log.warn({ err }, 'could not resume tracking'));
  await flow.sweepIncoming();
  const sweeper = setInterval(() => void flow.sweepIncoming().catch(() => {}), SWEEP_EVERY_MS);
  sweeper.unref();

  let polling: Promise<void> | undefined;
  await new Promise<void>((resolve, reject) => {
    polling = bot.start({ allowed_updates: ['message', 'callback_query'], onStart: () => resolve() });
    polling.catch((err: unknown) => {
      log.error({ err }, 'telegram polling stopped');
      reject(err);
    });
  });
  log.info({ username, apiRoot: tg.apiRoot, localMode: tg.localMode }, 'telegram bot polling');

  return {
    bot,
    flow,
    library,
    username,
    async close() {
      clearInterval(sweeper);
      flow.close();
      await bot.stop().catch(() => {});
      await polling?.catch(() => {});
      await deliverer.close();
      ui.close();
    },
  };
}
