/** The per-message edit throttle both chat UIs use, alone and behind the Telegram UI. */
import { describe, expect, it } from 'vitest';
import { GrammyError } from 'grammy';
import { EditThrottle } from '../src/bots/edit-throttle.js';
import type { UiMessage } from '../src/bots/chat-ui.js';

const signature = (msg: UiMessage) => String(msg.text);

/** A throttle whose edits are recorded; `fail` makes the next edits of a text throw. */
function recording(intervalMs: number) {
  const sent: Array<{ chatId: string; messageId: string; text: string; at: number }> = [];
  const fail = new Map<string, unknown>();
  const throttle = new EditThrottle({
    intervalMs,
    signature,
    perform: async (chatId, messageId, msg) => {
      sent.push({ chatId, messageId, text: String(msg.text), at: Date.now() });
      const err = fail.get(String(msg.text));
      if (err) throw err;
    },
  });
  return { throttle, sent, fail };
}

describe('edit throttle', () => {
  it('one edit per interval, the newest text wins, unchanged text is not sent again', async () => {
    const { throttle, sent } = recording(300);
    const a = throttle.edit('1', '7', { text: 'a', locale: 'en' });
    const b = throttle.edit('1', '7', { text: 'b', locale: 'en' });
    await a; // superseded: done once the newer text is shown
    expect(sent.map((s) => s.text)).toEqual(['b']);
    const c = throttle.edit('1', '7', { text: 'c', locale: 'en' });
    await Promise.all([b, c]);
    expect(sent.map((s) => s.text)).toEqual(['b', 'c']);
    expect(sent[1].at - sent[0].at).toBeGreaterThanOrEqual(290);
    await throttle.edit('1', '7', { text: 'c', locale: 'en' });
    expect(sent).toHaveLength(2);
    throttle.close();
  });

  it('each message has its own throttle', async () => {
    const { throttle, sent } = recording(5000);
    const t0 = Date.now();
    await Promise.all([throttle.edit('1', '7', { text: 'x', locale: 'en' }), throttle.edit('1', '8', { text: 'x', locale: 'en' }), throttle.edit('2', '7', { text: 'x', locale: 'en' })]);
    expect(sent.map((s) => `${s.chatId}:${s.messageId}`).sort()).toEqual(['1:7', '1:8', '2:7']);
    expect(Date.now() - t0).toBeLessThan(4000);
    throttle.close();
  });

  it('a message just sent shows its text: the same text is not edited in, another is', async () => {
    const { throttle, sent } = recording(50);
    throttle.sent('1', '7', { text: 'start', locale: 'en' });
    await throttle.edit('1', '7', { text: 'start', locale: 'en' });
    expect(sent).toHaveLength(0);
    await throttle.edit('1', '7', { text: 'next', locale: 'en' });
    expect(sent.map((s) => s.text)).toEqual(['next']);
    throttle.close();
  });

  it('a failed edit rejects every waiter of that text; later edits still go out, the text is not taken as shown', async () => {
    const { throttle, sent, fail } = recording(100);
    const boom = new Error('refused');
    fail.set('bad', boom);
    const first = throttle.edit('1', '7', { text: 'older', locale: 'en' });
    const second = throttle.edit('1', '7', { text: 'bad', locale: 'en' });
    await expect(first).rejects.toBe(boom);
    await expect(second).rejects.toBe(boom);
    fail.delete('bad');
    await throttle.edit('1', '7', { text: 'bad', locale: 'en' });
    expect(sent.map((s) => s.text)).toEqual(['bad', 'bad']);
    expect(sent[1].at - sent[0].at).toBeGreaterThanOrEqual(90);
    throttle.close();
  });

  it('going back to the shown text before a waiting edit\'s turn sends nothing', async () => {
    const { throttle, sent } = recording(200);
    await throttle.edit('1', '7', { text: 'a', locale: 'en' });
    const b = throttle.edit('1', '7', { text: 'b', locale: 'en' });
    const a = throttle.edit('1', '7', { text: 'a', locale: 'en' });
    await Promise.all([a, b]);
    // 'a' superseded 'b' before its turn and is what the message shows: nothing more to send
    expect(sent.map((s) => s.text)).toEqual(['a']);
    throttle.close();
  });

  it('close rejects waiting edits and sends nothing more', async () => {
    const { throttle, sent } = recording(10_000);
    await throttle.edit('1', '7', { text: 'a', locale: 'en' });
    const waiting = throttle.edit('1', '7', { text: 'b', locale: 'en' });
    throttle.close();
    await expect(waiting).rejects.toThrow('bot stopped');
    await new Promise((r) => setTimeout(r, 50));
    expect(sent.map((s) => s.text)).toEqual(['a']);
  });

  it('past 2000 messages, idle ones are forgotten and recently edited ones kept', async () => {
    const { throttle, sent } = recording(0);
    for (let i = 0; i < 2001; i++) throttle.sent('1', String(i), { text: 'x', locale: 'en' });
    await throttle.edit('1', '0', { text: 'edited', locale: 'en' });
    throttle.sent('1', 'new', { text: 'x', locale: 'en' }); // prunes
    await throttle.edit('1', '0', { text: 'edited', locale: 'en' }); // still known as shown
    await throttle.edit('1', '1', { text: 'x', locale: 'en' }); // forgotten: sent again
    expect(sent.map((s) => `${s.messageId}:${s.text}`)).toEqual(['0:edited', '1:x']);
    throttle.close();
  });
});

describe('telegram status message edits', () => {
  it('one edit per interval, the newest text wins, unchanged text is not sent again', async () => {
    const { TelegramUi } = await import('../src/bots/telegram/ui.js');
    const { logger } = await import('../src/log.js');
    const sent: Array<{ text: string; at: number }> = [];
    const api = {
      sendMessage: async () => ({ message_id: 7 }),
      editMessageText: async (_c: unknown, _m: unknown, text: string) => {
        sent.push({ text, at: Date.now() });
        return true;
      },
    };
    const ui = new TelegramUi(api as never, 300, logger);
    const id = await ui.send('1', { text: 'start', locale: 'en' });
    await ui.send('1', { text: 'other', locale: 'en' }); // another message has its own throttle
    const a = ui.edit('1', id, { text: 'a', locale: 'en' });
    const b = ui.edit('1', id, { text: 'b', locale: 'en' });
    await a;
    const c = ui.edit('1', id, { text: 'c', locale: 'en' });
    await Promise.all([b, c]);
    expect(sent.map((s) => s.text)).toEqual(['b', 'c']); // 'a' was superseded before its turn
    expect(sent[1].at - sent[0].at).toBeGreaterThanOrEqual(290);
    await ui.edit('1', id, { text: 'c', locale: 'en' });
    expect(sent).toHaveLength(2);
    ui.close();
  });

  it('"message is not modified" counts as shown; other errors reach the caller', async () => {
    const { TelegramUi } = await import('../src/bots/telegram/ui.js');
    const { logger } = await import('../src/log.js');
    const calls: string[] = [];
    const api = {
      sendMessage: async () => ({ message_id: 7 }),
      editMessageText: async (_c: unknown, _m: unknown, text: string) => {
        calls.push(text);
        if (text === 'same') throw new GrammyError('edit failed', { ok: false, error_code: 400, description: 'Bad Request: message is not modified' }, 'editMessageText', {});
        if (text === 'gone') throw new GrammyError('edit failed', { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' }, 'editMessageText', {});
        return true;
      },
    };
    const ui = new TelegramUi(api as never, 0, logger);
    await ui.edit('1', '7', { text: 'same', locale: 'en' });
    await ui.edit('1', '7', { text: 'same', locale: 'en' });
    expect(calls).toEqual(['same']);
    await expect(ui.edit('1', '7', { text: 'gone', locale: 'en' })).rejects.toThrow(/not found/);
    ui.close();
  });
});
