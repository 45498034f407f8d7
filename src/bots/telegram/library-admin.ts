/** /bg: the gallery for everyone; /bg add NAME (in reply to a picture or video), /bg remove NAME and /bg generate PROMPT for the owners. */
import { rm } from 'node:fs/promises';
import { Composer, type Context } from 'grammy';
import { botTexts } from '../texts.js';
import { isOwner, localeOf, reply, type TelegramDeps } from './context.js';
import { TooBigToDownload } from './download.js';
import { findMedia } from './parse.js';

export function libraryAdmin(d: TelegramDeps): Composer<Context> {
  const { flow, tg } = d;
  const c = new Composer<Context>();
  c.command('bg', async (ctx) => {
    const msg = ctx.msg;
    const locale = await localeOf(d, ctx);
    const t = botTexts(locale);
    const [sub, ...rest] = ctx.match.trim().split(/\s+/);
    const arg = rest.join(' ').trim();
    if (!sub) return flow.sendGallery(String(ctx.chat.id), locale, String(msg.message_id));
    if (sub !== 'add' && sub !== 'remove' && sub !== 'generate') return void (await reply(d, ctx, t.bgUsage, msg.message_id));
    if (!isOwner(d, ctx)) return void (await reply(d, ctx, t.ownerOnly, msg.message_id));
    if (sub === 'remove') return void (await reply(d, ctx, await flow.removeBackground(arg, locale), msg.message_id));
    if (sub === 'generate') {
      // The server may take a minute: say so first.
      await reply(d, ctx, t.bgGenerating, msg.message_id);
      return void (await reply(d, ctx, await flow.generateBackground(arg, locale), msg.message_id));
    }
    const source = msg.reply_to_message;
    const largestPhoto = source?.photo?.at(-1);
    const found = largestPhoto ? { media: largestPhoto, kind: 'document' as const, name: 'photo.jpg' } : source ? findMedia(source) : null;
    if (!found || !arg) return void (await reply(d, ctx, t.bgUsage, msg.message_id));
    const target = await flow.incomingPath(found.name);
    try {
      await d.download(found, target);
    } catch (err) {
      await rm(target, { force: true });
      const text = err instanceof TooBigToDownload ? t.tooBigToDownload({ sizeMb: err.sizeMb, limitMb: tg.downloadLimitMb }) : t.failed(t.downloadFailed);
      return void (await reply(d, ctx, text, msg.message_id));
    }
    await reply(d, ctx, await flow.addBackground(target, arg, locale), msg.message_id);
  });
  return c;
}
