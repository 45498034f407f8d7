import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import { startFakeTelegram, type Chat, type FakeTelegram, type User } from './fakes/telegram.js';
import { parseHtml, parseMarkdownV2, EntityParseError } from './fakes/telegram-markup.js';
import { ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';

const alice: User = { id: 1001, is_bot: false, first_name: 'Alice', language_code: 'en' };
const bob: User = { id: 1002, is_bot: false, first_name: 'Bob' };
const aliceChat: Chat = { id: alice.id, type: 'private', first_name: 'Alice' };
const group: Chat = { id: -100777, type: 'supergroup', title: 'Dancers' };

const rejectionOf = async (p: Promise<unknown>): Promise<GrammyError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof GrammyError) return err;
    throw err;
  }
  throw new Error('expected a GrammyError');
};

const raw = async (url: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> => {
  const res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
};

const tmp = tempDir('fake-telegram-test-');
let clip: string; // a real 1 s 64x48 H.264 mp4
let thumb: string; // a 32x24 JPEG

beforeAll(async () => {
  clip = path.join(tmp.dir, 'clip.mp4');
  thumb = path.join(tmp.dir, 'thumb.jpg');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', clip]);
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=32x24:rate=1:duration=1', '-frames:v', '1', thumb]);
});
afterAll(() => tmp.remove());

describe('fake Telegram Bot API, driven by the real grammY client', () => {
  let tg: FakeTelegram;
  let bot: Bot;
  afterEach(async () => {
    if (bot?.isRunning()) await bot.stop();
    await tg?.close();
  });
  const start = async (opts: Parameters<typeof startFakeTelegram>[0] = {}) => {
    tg = await startFakeTelegram(opts);
    bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
    return { tg, bot };
  };

  it('answers getMe, refuses wrong tokens and unknown methods like the real server', async () => {
    await start({ botUsername: 'dance_lift_bot' });
    const me = await bot.api.getMe();
    expect(me).toMatchObject({ id: tg.botUser.id, is_bot: true, username: 'dance_lift_bot' });
    expect(tg.apiRoot).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const wrong = new Bot(`${tg.botUser.id}:AAwrongwrongwrongwrongwrongwrongwro`, { client: { apiRoot: tg.apiRoot } });
    const e401 = await rejectionOf(wrong.api.getMe());
    expect([e401.error_code, e401.description]).toEqual([401, 'Unauthorized']);
    const malformed = await raw(`${tg.apiRoot}/botnot-a-token/getMe`);
    expect([malformed.status, malformed.json.description]).toEqual([404, 'Not Found']);

    const unknown = await rejectionOf((bot.api.raw as any).sendHologram({ chat_id: 1 }));
    expect([unknown.error_code, unknown.description]).toEqual([404, 'Not Found: method not found']);
    // method names are case-insensitive; GET with a query string works too
    const get = await raw(`${tg.apiRoot}/bot${tg.token}/GETME`);
    expect(get.json.result.username).toBe('dance_lift_bot');
  });

  it('parses HTML and MarkdownV2 like Telegram and refuses bad markup', async () => {
    await start();
    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });

    const ok = await bot.api.sendMessage(alice.id, '<b>Done</b> in 3.2 s · <i>a&amp;b &lt;c&gt;.mp4</i>', { parse_mode: 'HTML' });
    expect(ok.text).toBe('Done in 3.2 s · a&b <c>.mp4');
    expect(ok.entities).toEqual([
      { type: 'bold', offset: 0, length: 4 },
      { type: 'italic', offset: 16, length: 11 },
    ]);

    const unclosed = await rejectionOf(bot.api.sendMessage(alice.id, '<b>bold', { parse_mode: 'HTML' }));
    expect([unclosed.error_code, unclosed.description]).toEqual([
      400,
      "Bad Request: can't parse entities: Can't find end tag corresponding to start tag b",
    ]);
    const unknownTag = await rejectionOf(bot.api.sendMessage(alice.id, 'x <video.mp4> y', { parse_mode: 'HTML' }));
    expect(unknownTag.description).toBe('Bad Request: can\'t parse entities: Unsupported start tag "video.mp4" at byte offset 2');
    const amp = await rejectionOf(bot.api.sendMessage(alice.id, 'salt & pepper', { parse_mode: 'HTML' }));
    expect(amp.description).toMatch(/^Bad Request: can't parse entities: Character '&' at byte offset 5/);

    const dot = await rejectionOf(bot.api.sendMessage(alice.id, 'Version 1.0', { parse_mode: 'MarkdownV2' }));
    expect(dot.description).toBe("Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'");
    const v2 = await bot.api.sendMessage(alice.id, '*my\\_clip\\.mp4* took 1\\.5 s', { parse_mode: 'MarkdownV2' });
    expect(v2.text).toBe('my_clip.mp4 took 1.5 s');
    expect(v2.entities).toEqual([{ type: 'bold', offset: 0, length: 11 }]);

    const long = await rejectionOf(bot.api.sendMessage(alice.id, 'x'.repeat(4097)));
    expect(long.description).toBe('Bad Request: message is too long');
    const empty = await rejectionOf(bot.api.sendMessage(alice.id, '   '));
    expect(empty.description).toBe('Bad Request: message text is empty');
    const nochat = await rejectionOf(bot.api.sendMessage(424242, 'hello'));
    expect(nochat.description).toBe('Bad Request: chat not found');
  });

  it('ports TDLib parser behaviour (byte offsets, nesting, links)', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (e instanceof EntityParseError) return e.message;
        throw e;
      }
      return 'no error';
    };
    // from td/test/message_entities.cpp
    expect(err(() => parseMarkdownV2('🏟 🏟_abacaba'))).toBe("Can't find end of Italic entity at byte offset 9");
    expect(err(() => parseMarkdownV2('🏟 🏟_abac * asd '))).toBe("Can't find end of Bold entity at byte offset 15");
    expect(parseMarkdownV2('__u__ ||s|| ~x~ `a\\`b` [t](https://example.com/a\\)b)')).toEqual({
      text: 'u s x a`b t',
      entities: [
        { type: 'underline', offset: 0, length: 1 },
        { type: 'spoiler', offset: 2, length: 1 },
        { type: 'strikethrough', offset: 4, length: 1 },
        { type: 'code', offset: 6, length: 3 },
        { type: 'text_link', offset: 10, length: 1, url: 'https://example.com/a)b' },
      ],
    });
    expect(parseHtml('<pre><code class="language-js">x()</code></pre><a href="example.org">l</a>')).toEqual({
      text: 'x()l',
      entities: [
        { type: 'pre', offset: 0, length: 3, language: 'js' },
        { type: 'text_link', offset: 3, length: 1, url: 'http://example.org/' },
      ],
    });
    expect(err(() => parseHtml('<b>a</i>'))).toBe('Unmatched end tag at byte offset 4, expected "</b>", found "</i>"');
    expect(err(() => parseHtml('<span>x</span>'))).toBe('Tag "span" must have class "tg-spoiler" at byte offset 0');
    expect(parseHtml('a &amp; b &gt; c', { strict: false }).text).toBe('a & b > c');
    expect(parseHtml('a & b > c', { strict: false }).text).toBe('a & b > c'); // what Telegram itself accepts
  });

  it('refuses identical edits, drops the keyboard on edits without one, checks callback data', async () => {
    await start();
    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });
    const kb = new InlineKeyboard().text('Sunset', 'bg:sunset').text('Start', 'go');
    const sent = await bot.api.sendMessage(alice.id, 'Pick a background', { reply_markup: kb });
    expect(sent.reply_markup).toEqual({ inline_keyboard: kb.inline_keyboard });

    const same = await rejectionOf(bot.api.editMessageText(alice.id, sent.message_id, 'Pick a background', { reply_markup: kb }));
    expect([same.error_code, same.description]).toEqual([
      400,
      'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    ]);
    await bot.api.editMessageText(alice.id, sent.message_id, 'queued (position 3)');
    const [record] = tg.chatMessages(alice.id).filter((m) => m.from_bot);
    expect(record).toMatchObject({ text: 'queued (position 3)', edits: 1 });
    expect(record!.reply_markup).toBeUndefined();

    const data65 = 'x'.repeat(65);
    const tooLong = await rejectionOf(bot.api.sendMessage(alice.id, 'menu', { reply_markup: new InlineKeyboard().text('A', data65) }));
    expect([tooLong.error_code, tooLong.description]).toEqual([400, 'Bad Request: BUTTON_DATA_INVALID']);
    // 64 bytes is fine, counted in UTF-8 bytes (22 × 3-byte characters = 66 bytes is not)
    await bot.api.sendMessage(alice.id, 'menu', { reply_markup: new InlineKeyboard().text('A', 'y'.repeat(64)) });
    const multibyte = await rejectionOf(bot.api.sendMessage(alice.id, 'menu', { reply_markup: new InlineKeyboard().text('A', '背'.repeat(22)) }));
    expect(multibyte.description).toBe('Bad Request: BUTTON_DATA_INVALID');
    const localhost = await rejectionOf(
      bot.api.sendMessage(alice.id, 'link', { reply_markup: new InlineKeyboard().url('Download', 'http://localhost:8080/x') }),
    );
    expect(localhost.description).toBe("Bad Request: inline keyboard button URL 'http://localhost:8080/x' is invalid: Wrong HTTP URL");
  });

  it('serves a long-polling bot: a user message and a button press, answered', async () => {
    await start();
    await bot.api.setMyCommands([{ command: 'start', description: 'What this bot does' }]);
    expect(await bot.api.getMyCommands()).toEqual([{ command: 'start', description: 'What this bot does' }]);

    bot.command('start', (ctx) => ctx.reply('Send me a video', { reply_markup: new InlineKeyboard().text('Help', 'help') }));
    bot.callbackQuery('help', async (ctx) => {
      await ctx.answerCallbackQuery({ text: 'Videos up to 20 MB' });
      await ctx.editMessageText('Help: send a dance video');
    });
    bot.catch((err) => {
      throw err.error;
    });
    void bot.start({ timeout: 2 });

    const since = tg.calls.length;
    const m = tg.userMessage({ chat: aliceChat, from: alice, text: '/start' });
    expect(m.entities).toEqual([{ type: 'bot_command', offset: 0, length: 6 }]);
    const reply = await tg.waitForCall((c) => c.method === 'sendMessage', 5000, { since });
    const menu = (reply.response as { result: { message_id: number } }).result;

    const queryId = tg.pressButton({ chat: aliceChat, from: alice, messageId: menu.message_id, data: 'help' });
    await tg.waitForCall((c) => c.method === 'editMessageText', 5000, { since });
    expect(tg.answeredCallbacks).toEqual([{ id: queryId, text: 'Videos up to 20 MB' }]);
    expect(tg.chatMessages(alice.id).map((r) => [r.from_bot, r.text])).toEqual([
      [false, '/start'],
      [true, 'Help: send a dance video'],
    ]);
    expect(() => tg.pressButton({ chat: aliceChat, from: alice, messageId: menu.message_id, data: 'help' })).toThrow(/no button/);

    await bot.stop();
    expect(tg.pendingUpdates()).toEqual([]); // bot.stop() confirmed everything through the offset
    const again = await rejectionOf(bot.api.answerCallbackQuery(queryId));
    expect(again.description).toBe('Bad Request: query is too old and response timeout expired or query ID is invalid');
  });

  it('implements getUpdates: offset confirms, timeout holds the request, a second poller gets 409', async () => {
    await start();
    const url = `${tg.apiRoot}/bot${tg.token}/getUpdates`;
    tg.userMessage({ chat: aliceChat, from: alice, text: 'one' });
    const first = await raw(url, {});
    expect(first.json.result).toHaveLength(1);
    const id = first.json.result[0].update_id;
    expect((await raw(url, {})).json.result).toHaveLength(1); // not confirmed yet
    expect((await raw(url, { offset: id + 1 })).json.result).toEqual([]);

    const t0 = Date.now();
    const held = raw(url, { offset: id + 1, timeout: 5 });
    await new Promise((r) => setTimeout(r, 150));
    tg.userMessage({ chat: aliceChat, from: alice, text: 'two' });
    const second = await held;
    expect(second.json.result.map((u: any) => u.message.text)).toEqual(['two']);
    expect(Date.now() - t0).toBeLessThan(2000);

    const empty = Date.now();
    expect((await raw(url, { offset: id + 2, timeout: 1 })).json.result).toEqual([]);
    expect(Date.now() - empty).toBeGreaterThanOrEqual(900);

    const a = raw(url, { offset: id + 2, timeout: 5 });
    await new Promise((r) => setTimeout(r, 100));
    const b = raw(url, { offset: id + 2, timeout: 0 });
    expect((await a).status).toBe(409);
    expect((await a).json.description).toBe('Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
    expect((await b).status).toBe(200);

    tg.pressButton({ chat: aliceChat, from: alice, messageId: 1, data: 'x', force: true });
    expect((await raw(url, { offset: id + 2, allowed_updates: ['message'] })).json.result).toEqual([]);
  });

  it('serves getFile and the download path in cloud mode, and refuses files over 20 MB', async () => {
    await start();
    const bytes = Buffer.from('not really a video, but bytes');
    const small = tg.addFile(bytes, { name: 'dance.mp4', mime: 'video/mp4' });
    tg.userMessage({ chat: aliceChat, from: alice, video: { file_id: small.file_id, width: 512, height: 512, duration: 4 } });
    const file = await bot.api.getFile(small.file_id);
    expect(file.file_path).toMatch(/^videos\/file_\d+\.mp4$/);
    expect(file.file_size).toBe(bytes.length);
    const res = await fetch(`${tg.apiRoot}/file/bot${tg.token}/${file.file_path}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    expect((await fetch(`${tg.apiRoot}/file/botWRONG/${file.file_path}`)).status).toBe(404);

    const big = tg.addFile({ sizeBytes: 20 * 1024 * 1024 + 1 }, { name: 'big.mp4' });
    const tooBig = await rejectionOf(bot.api.getFile(big.file_id));
    expect([tooBig.error_code, tooBig.description]).toEqual([400, 'Bad Request: file is too big']);
    const invalid = await rejectionOf(bot.api.getFile('nope'));
    expect(invalid.description).toBe('Bad Request: invalid file_id');
  });

  it('local mode: absolute paths from getFile, no download endpoint, local paths accepted as uploads', async () => {
    await start({ localMode: true });
    const sparse = path.join(tmp.dir, 'sixty.mp4');
    writeFileSync(sparse, '');
    truncateSync(sparse, 60 * 1024 * 1024);
    const big = tg.addFile(sparse);
    const file = await bot.api.getFile(big.file_id);
    expect(path.isAbsolute(file.file_path!)).toBe(true);
    expect(statSync(file.file_path!).size).toBe(60 * 1024 * 1024);
    expect((await fetch(`${tg.apiRoot}/file/bot${tg.token}/${file.file_path}`)).status).toBe(404);

    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });
    const byPath = await bot.api.sendVideo(alice.id, `file://${clip}`, { width: 64, height: 48, duration: 1 });
    expect(byPath.video).toMatchObject({ width: 64, height: 48, duration: 1, mime_type: 'video/mp4', file_size: statSync(clip).size });
    const call = tg.calls.find((c) => c.method === 'sendVideo')!;
    expect(call.files).toEqual([expect.objectContaining({ field: 'video', filename: 'clip.mp4', bytes: statSync(clip).size })]);

    // a 60 MB upload streams through (2000 MB limit in local mode)
    const uploaded = await bot.api.sendDocument(alice.id, new InputFile(sparse));
    expect(uploaded.document).toMatchObject({ file_name: 'sixty.mp4', file_size: 60 * 1024 * 1024 });
  });

  it('records sendVideo uploads on disk, with the thumbnail, streaming flag and caption', async () => {
    await start();
    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });
    const msg = await bot.api.sendVideo(alice.id, new InputFile(clip), {
      width: 64,
      height: 48,
      duration: 1,
      supports_streaming: true,
      thumbnail: new InputFile(thumb),
      caption: '<b>upscale</b> 1.2 s · 8.3 fps',
      parse_mode: 'HTML',
    });
    expect(msg.caption).toBe('upscale 1.2 s · 8.3 fps');
    expect(msg.video).toMatchObject({ width: 64, height: 48, duration: 1, file_name: 'clip.mp4', mime_type: 'video/mp4', file_size: statSync(clip).size });
    expect(msg.video!.thumbnail).toMatchObject({ width: 32, height: 24 });

    const call = await tg.waitForCall((c) => c.method === 'sendVideo');
    expect(call.params).toMatchObject({ chat_id: alice.id, width: 64, supports_streaming: true, parse_mode: 'HTML' });
    const video = call.files.find((f) => f.filename === 'clip.mp4')!;
    expect(readFileSync(video.path)).toEqual(readFileSync(clip));
    const probe = await ffprobeJson(video.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 64, height: 48 });
    expect(tg.chatMessages(alice.id).at(-1)).toMatchObject({ raw_caption: '<b>upscale</b> 1.2 s · 8.3 fps', parse_mode: 'HTML' });

    // re-sending by file_id, and fetching the bot's own upload
    const again = await bot.api.sendVideo(alice.id, msg.video!.file_id);
    expect(again.video!.file_id).toBe(msg.video!.file_id);
    const long = await rejectionOf(bot.api.sendVideo(alice.id, msg.video!.file_id, { caption: 'c'.repeat(1025) }));
    expect(long.description).toBe('Bad Request: message caption is too long');
  });

  it('answers 413 for uploads over the limit', async () => {
    await start({ uploadLimitBytes: 64 * 1024 });
    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });
    const err = await rejectionOf(bot.api.sendVideo(alice.id, new InputFile(Buffer.alloc(200 * 1024), 'big.mp4')));
    expect([err.error_code, err.description]).toEqual([413, 'Request Entity Too Large']);
    expect(tg.chatMessages(alice.id)).toHaveLength(1);
    await bot.api.sendVideo(alice.id, new InputFile(Buffer.alloc(1024), 'small.mp4')); // connection still fine
  });

  it('fails on demand like flood control, with retry_after and no automatic retry', async () => {
    await start();
    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });
    const sent = await bot.api.sendMessage(alice.id, 'upscaling 10 %');
    tg.failNext('editMessageText', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    const err = await rejectionOf(bot.api.editMessageText(alice.id, sent.message_id, 'upscaling 41 %'));
    expect([err.error_code, err.description, err.parameters.retry_after]).toEqual([429, 'Too Many Requests: retry after 1', 1]);
    const failed = tg.calls.filter((c) => c.method === 'editMessageText');
    expect(failed).toHaveLength(1); // grammY did not retry by itself
    const http = await raw(`${tg.apiRoot}/bot${tg.token}/getMe`);
    expect(http.status).toBe(200);
    await bot.api.editMessageText(alice.id, sent.message_id, 'upscaling 41 %');
    expect(tg.chatMessages(alice.id).at(-1)).toMatchObject({ text: 'upscaling 41 %', edits: 1 });

    // the opt-in per-message edit flood control
    await tg.close();
    await start({ editMinIntervalMs: 3000 });
    tg.userMessage({ chat: aliceChat, from: alice, text: 'hi' });
    const status = await bot.api.sendMessage(alice.id, 'queued');
    await bot.api.editMessageText(alice.id, status.message_id, 'matting');
    const flood = await rejectionOf(bot.api.editMessageText(alice.id, status.message_id, 'encoding'));
    expect([flood.error_code, flood.parameters.retry_after]).toEqual([429, 3]);
  });

  it('knows group admins and members, and group privacy mode', async () => {
    await start({ groupPrivacy: true, botUsername: 'dance_lift_bot' });
    tg.setAdmins(group.id, [alice], { creator: alice.id });
    tg.userMessage({ chat: group, from: bob, text: 'nice moves' }); // not delivered: privacy mode
    const video = tg.addFile(readFileSync(clip), { name: 'clip.mp4' });
    tg.userMessage({ chat: group, from: bob, video: { file_id: video.file_id }, caption: '/enhance@dance_lift_bot' });
    expect(tg.pendingUpdates().map((u: any) => u.message.caption ?? u.message.text)).toEqual(['/enhance@dance_lift_bot']);

    expect((await bot.api.getChatMember(group.id, alice.id)).status).toBe('creator');
    expect((await bot.api.getChatMember(group.id, bob.id)).status).toBe('member');
    expect((await bot.api.getChatAdministrators(group.id)).map((m) => m.user.id)).toEqual([alice.id]);
    const notAllowed = await rejectionOf(bot.api.deleteMessage(group.id, 1));
    expect(notAllowed.description).toBe("Bad Request: message can't be deleted");
    await bot.api.sendChatAction(group.id, 'upload_video');
    await bot.api.setMessageReaction(group.id, 2, [{ type: 'emoji', emoji: '👍' }]);
    expect(tg.chatMessages(group.id)[1]!.reactions).toEqual([{ type: 'emoji', emoji: '👍' }]);
  });
});
