/** Presses on inline buttons: permission (the requester or a chat admin), then the menu or the job. */
import { Composer, type Context } from 'grammy';
import { parseCallback } from '../menu.js';
import { botTexts, reasonText } from '../texts.js';
import { localeOf, type TelegramDeps } from './context.js';
import { isAdminStatus } from './parse.js';

export function buttons(d: TelegramDeps): Composer<Context> {
  const c = new Composer<Context>();
  c.on('callback_query:data', async (ctx) => {
    const locale = await localeOf(d, ctx);
    const cb = parseCallback(ctx.callbackQuery.data);
    if (!cb) return void (await ctx.answerCallbackQuery({ text: botTexts(locale).menuExpired }));
    const chat = ctx.chat;
    const userId = ctx.from.id;
    // Whatever happens, the press is answered: an unanswered one spins on the user's screen.
    const result = await d.flow
      .press(cb, {
        userId: String(userId),
        isAdmin: async () => {
          if (!chat || chat.type === 'private') return false;
          const member = await d.api.getChatMember(chat.id, userId).catch(() => null);
          return isAdminStatus(member?.status);
        },
      }, locale)
      .catch((err: unknown) => {
        d.log.error({ err, data: ctx.callbackQuery.data, update: ctx.update.update_id }, 'button failed');
        return { text: reasonText(err, locale).slice(0, 190), alert: true };
      });
    await ctx.answerCallbackQuery(result.text ? { text: result.text, show_alert: result.alert ?? false } : {});
  });
  return c;
}
