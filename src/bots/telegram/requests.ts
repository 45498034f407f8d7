/**
 * Videos in, menus out: a file in a private chat, a file captioned /enhance, /enhance in reply to a
 * file, or any file in a group that turned auto-enhance on. The first sign of life ("typing…") is
 * sent before anything is looked up or downloaded; a request that breaks is answered and logged.
 */
import { rm } from 'node:fs/promises';
import { Composer, type Context } from 'grammy';
import type { Locale } from '../../i18n/messages.js';
import { botTexts, reasonText } from '../texts.js';
import { localeOf, reply, requesterOf, type TelegramDeps } from './context.js';
import { TooBigToDownload } from './download.js';
import { findMedia, isPhoto, MB, overDownloadLimit } from './parse.js';

/** "typing…" until the request has its answer (Telegram shows an action for 5 s). */
function keepTyping(d: TelegramDeps, chatId: number): () => void {
  const send = () => void d.api.sendChatAction(chatId, 'typing').catch((err: unknown) => d.log.debug({ err, chatId }, 'chat action failed'));
  send();
  const timer = setInterval(send, 4500);
  return () => clearInterval(timer);
}

/** A video (or any file: ffprobe decides) from `msg`, asked for by the sender of `ctx`. */
export async function request(d: TelegramDeps, ctx: Context, msg: unknown, replyTo: number): Promise<void> {
  const stopTyping = keepTyping(d, ctx.chat!.id);
  try {
    await checkFetchAndOffer(d, ctx, msg, replyTo);
  } catch (err) {
    // Whatever broke, the user hears of it; the bot goes on with the next update.
    d.log.error({ err, chatId: ctx.chat?.id, update: ctx.update.update_id }, 'request failed');
    const locale = await localeOf(d, ctx).catch((): Locale => 'en');
    await reply(d, ctx, botTexts(locale).failed(reasonText(err, locale)), replyTo).catch(() => {});
  } finally {
    stopTyping();
  }
}

async function checkFetchAndOffer(d: TelegramDeps, ctx: Context, msg: unknown, replyTo: number): Promise<void> {
  const { flow, tg } = d;
  const requester = await requesterOf(d, ctx);
  const t = botTexts(requester.locale);
  const found = findMedia(msg);
  if (!found) return void (await reply(d, ctx, t.failed(reasonText({ code: 'NOT_A_VIDEO' }, requester.locale)), replyTo));
  try {
    await flow.precheck(requester);
  } catch (err) {
    return void (await reply(d, ctx, t.failed(reasonText(err, requester.locale)), replyTo));
  }
  if (overDownloadLimit(found.media.file_size, tg.downloadLimitMb, tg.localMode)) {
    return void (await reply(d, ctx, t.tooBigToDownload({ sizeMb: found.media.file_size! / MB, limitMb: tg.downloadLimitMb }), replyTo));
  }
  const target = await flow.incomingPath(found.name);
  try {
    await d.download(found, target);
  } catch (err) {
    await rm(target, { force: true });
    if (err instanceof TooBigToDownload) return void (await reply(d, ctx, t.tooBigToDownload({ sizeMb: err.sizeMb, limitMb: tg.downloadLimitMb }), replyTo));
    d.log.warn({ err, chatId: requester.chatId }, 'download failed');
    return void (await reply(d, ctx, t.failed(t.downloadFailed), replyTo));
  }
  await flow.offerMenu({ requester, file: target, name: found.name, replyTo: String(replyTo) });
}

/** The command a caption starts with ("enhance" of "/enhance@thisbot"), '' for another bot's, null for none. */
function captionCommand(ctx: Context): string | null {
  const first = ctx.entities('bot_command').find((e) => e.offset === 0);
  if (!first) return null;
  const [name, at] = first.text.slice(1).split('@');
  return at && at.toLowerCase() !== ctx.me.username.toLowerCase() ? '' : name.toLowerCase();
}

export function requests(d: TelegramDeps): Composer<Context> {
  const c = new Composer<Context>();
  // "/enhance" in reply to a file (groups in privacy mode see only commands and replies).
  c.command('enhance', async (ctx) => {
    const msg = ctx.msg;
    const target = msg.reply_to_message;
    if (target && findMedia(target)) return request(d, ctx, target, target.message_id);
    await reply(d, ctx, botTexts(await localeOf(d, ctx)).groupHint, msg.message_id);
  });
  c.on('message', async (ctx, next) => {
    const msg = ctx.msg;
    const isPrivate = ctx.chat.type === 'private';
    if (findMedia(msg)) {
      // bot.command() reads message text only: a file's caption command is read from its entities.
      const caption = captionCommand(ctx);
      // In groups a file captioned with another command is meant for that command, not for auto-enhance.
      if (isPrivate || caption === 'enhance' || (caption === null && (await d.flow.autoEnhance(String(ctx.chat.id))))) return request(d, ctx, msg, msg.message_id);
      return next();
    }
    if (isPrivate && isPhoto(msg)) {
      const locale = await localeOf(d, ctx);
      return void (await reply(d, ctx, botTexts(locale).failed(reasonText({ code: 'NOT_A_VIDEO' }, locale)), msg.message_id));
    }
    return next();
  });
  return c;
}
