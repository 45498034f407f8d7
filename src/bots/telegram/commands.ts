/** The everyday commands: /start, /help, /cancel, /queue, /lang, /settings (groups), /stats (owners). */
import { Composer, type Context } from 'grammy';
import type { Locale } from '../../i18n/messages.js';
import { botTexts } from '../texts.js';
import { isOwner, localeOf, reply, requesterOf, type TelegramDeps } from './context.js';
import { isAdminStatus } from './parse.js';

export function commands(d: TelegramDeps): Composer<Context> {
  const { flow, tg, service } = d;
  const c = new Composer<Context>();
  c.command(['start', 'help'], async (ctx) => {
    const t = botTexts(await localeOf(d, ctx));
    await reply(d, ctx, t.help({
      maxDurationS: service.config.pipeline.maxDurationS,
      downloadLimitMb: tg.localMode ? null : tg.downloadLimitMb,
      uploadLimitMb: tg.uploadLimitMb,
      perDay: service.config.limits.perUserPerDay,
    }));
  });
  c.command('cancel', async (ctx) => reply(d, ctx, await flow.cancelAll(await requesterOf(d, ctx))));
  c.command('queue', async (ctx) => reply(d, ctx, await flow.queueText(await requesterOf(d, ctx))));
  c.command('stats', async (ctx) => {
    const locale = await localeOf(d, ctx);
    await reply(d, ctx, isOwner(d, ctx) ? await flow.statsText(locale) : botTexts(locale).ownerOnly, ctx.msg.message_id);
  });
  c.command('settings', async (ctx) => {
    const t = botTexts(await localeOf(d, ctx));
    if (ctx.chat.type === 'private') return void (await reply(d, ctx, t.settingsGroupsOnly));
    const chatId = String(ctx.chat.id);
    const m = /^auto\s+(on|off)$/i.exec(ctx.match.trim());
    if (m) {
      const member = await d.api.getChatMember(ctx.chat.id, ctx.from!.id).catch(() => null);
      if (!isAdminStatus(member?.status)) return void (await reply(d, ctx, t.settingsAdminsOnly, ctx.msg.message_id));
      await flow.setAutoEnhance(chatId, m[1].toLowerCase() === 'on');
    }
    await reply(d, ctx, t.settings({ auto: await flow.autoEnhance(chatId) }));
  });
  c.command('lang', async (ctx) => {
    const want = ctx.match.trim().toLowerCase();
    const chosen: Locale | null = /^(zh|cn|中文|chinese)/.test(want) ? 'zh' : /^(en|english)/.test(want) ? 'en' : null;
    if (!chosen) return void (await reply(d, ctx, botTexts(await localeOf(d, ctx)).langPrompt));
    await flow.setLocale(String(ctx.from!.id), chosen);
    await reply(d, ctx, botTexts(chosen).langSet);
  });
  return c;
}
