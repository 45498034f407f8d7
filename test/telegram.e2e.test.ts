/**
 * The Telegram bot end to end: the real grammY client talks over HTTP to the fake Bot API server
 * (test/fakes/telegram.ts), jobs go through real Redis and an in-process enhance worker running
 * ffmpeg's upscaler and RVM on tiny clips.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { backgroundsDir, DEFAULT_BACKGROUNDS, DEFAULTS_LOCK } from '../src/backgrounds/library.js';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../src/service/context.js';
import type { EnhanceWorker } from '../src/queue/worker.js';
import { startTelegramBot, type TelegramBot } from '../src/bots/telegram/bot.js';
import type { Config } from '../src/config/schema.js';
import { logger } from '../src/log.js';
import { startFakeTelegram, type Chat, type ChatMessageRecord, type FakeTelegram, type FakeTelegramOptions, type User } from './fakes/telegram.js';
import { ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';
import { testConfig } from './helpers/fixtures.js';
import { addLibraryFile, botMedia, holdLibraryLock, HTML_BG, libraryFiles, openBotService } from './helpers/bot-stack.js';
import { sleep, until } from './helpers/wait.js';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ENHANCE_QUEUE } from '../src/queue/jobs.js';

/** A stack starts from an empty data dir: its first menu waits for the library's start-up run (slow on a busy 2-core machine). */
const MENU_WAIT_MS = 180_000;

const tmp = tempDir('dancelift-tg-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);

let clip: string;
let picture: string;
let big60: string;

interface Stack {
  fake: FakeTelegram;
  service: Service;
  bot: TelegramBot;
  worker?: EnhanceWorker;
  config: Config;
  close(): Promise<void>;
}
const stacks: Stack[] = [];

/** A fake Telegram, a service with its own queue prefix, the bot, and (unless told) a worker. */
async function startStack(opts: { fake?: FakeTelegramOptions; env?: Record<string, string>; worker?: boolean; beforeBot?: (c: Config) => void } = {}): Promise<Stack> {
  const fake = await startFakeTelegram(opts.fake);
  const base = await openBotService(tmp.dir, {
    platform: 'telegram',
    prefix: 'dltg',
    env: { TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, ...opts.env },
    worker: opts.worker,
    tweak: (c) => (c.telegram.pollIntervalMs = 500),
  });
  const { service, worker, config } = base;
  opts.beforeBot?.(config);
  const bot = await startTelegramBot(service, logger);
  const stack: Stack = {
    fake,
    service,
    bot,
    worker,
    config,
    async close() {
      await bot.close();
      await base.close();
      await fake.close();
    },
  };
  stacks.push(stack);
  return stack;
}

beforeAll(async () => {
  ({ clip, picture } = await botMedia(tmp.dir));
  // 60 MB that still probes as a 96x96 video: the clip in Matroska with a 60 MB attachment.
  const pad = work('pad.bin');
  writeFileSync(pad, Buffer.alloc(60 * 1024 * 1024));
  big60 = work('big60.mkv');
  await ffmpeg(['-i', clip, '-c', 'copy', '-attach', pad, '-metadata:s:t', 'mimetype=application/octet-stream', big60]);
});

afterEach(async () => {
  while (stacks.length > 0) await stacks.pop()!.close();
});

afterAll(() => tmp.remove());

const user = (id: number, language_code = 'en'): User => ({ id, is_bot: false, first_name: `User${id}`, language_code });
const privateChat = (u: User): Chat => ({ id: u.id, type: 'private', first_name: u.first_name });

const buttons = (m: ChatMessageRecord) => (m.reply_markup?.inline_keyboard ?? []).flat();
const button = (m: ChatMessageRecord, text: string | RegExp) => {
  const b = buttons(m).find((x) => (typeof text === 'string' ? x.text === text || x.text === `✅ ${text}` : text.test(x.text)));
  if (!b?.callback_data) throw new Error(`no button ${text} in ${JSON.stringify(buttons(m).map((x) => x.text))}`);
  return b.callback_data;
};
const botMessages = (fake: FakeTelegram, chatId: number) => fake.chatMessages(chatId).filter((m) => m.from_bot);
const message = (fake: FakeTelegram, chatId: number, id: number) => fake.chatMessages(chatId).find((m) => m.message_id === id)!;

/** Waits for the bot's menu (a message with a Start button) and returns it. */
async function menuIn(fake: FakeTelegram, chatId: number, after = 0): Promise<ChatMessageRecord> {
  return until('the menu', () => botMessages(fake, chatId).find((m) => m.message_id > after && buttons(m).some((b) => /Start|开始/.test(b.text))), MENU_WAIT_MS);
}

function sendVideo(fake: FakeTelegram, chat: Chat, from: User, file: string, opts: { name?: string; caption?: string; as?: 'video' | 'document' | 'animation' } = {}) {
  const name = opts.name ?? path.basename(file);
  const f = fake.addFile(file, { name, mime: name.endsWith('.mkv') ? 'video/x-matroska' : 'video/mp4' });
  const as = opts.as ?? 'video';
  const media = as === 'document' ? { file_id: f.file_id, file_name: name, mime_type: 'video/mp4' } : { file_id: f.file_id, width: 96, height: 96, duration: 1, mime_type: 'video/mp4', file_name: name };
  return fake.userMessage({ chat, from, [as]: media, ...(opts.caption ? { caption: opts.caption } : {}) });
}

describe('telegram bot', () => {
  it('fresh install: "typing" comes before the download finishes and before the library is made; one start-up run makes it; then the menu', async () => {
    // The library folder's lock is held, as by another process making the defaults (a CLI
    // submit): the bots' start-up run waits on it, so nothing of the library exists yet.
    let lock: { release(): void } | undefined;
    const { fake, config } = await startStack({ worker: false, beforeBot: (c) => void (lock = holdLibraryLock(c)) });
    const ann = user(111);
    const chat = privateChat(ann);
    const release = fake.holdDownloads();
    const since = fake.calls.length;
    sendVideo(fake, chat, ann, clip, { as: 'document' });
    const action = await fake.waitForCall((c) => c.method === 'sendChatAction' && c.params.chat_id === chat.id, 10_000, { since });
    expect(action.params.action).toBe('typing');
    // the download is asked for after the action and held: the action came before it finished
    await until('download asked for', () => fake.fileDownloads.length > 0);
    expect(fake.fileDownloads[0].callsBefore).toBeGreaterThan(fake.calls.indexOf(action));
    expect(fake.fileDownloads.every((d) => !d.done)).toBe(true);
    release();
    await until('downloaded', () => fake.fileDownloads.every((d) => d.done));
    // downloaded, but the library is still being waited for: no defaults, no menu, nothing else said
    expect(libraryFiles(config)).toEqual([DEFAULTS_LOCK]);
    expect(botMessages(fake, chat.id)).toEqual([]);
    // another chat is not held up by this one's wait: its video is downloaded, then waits for the same run
    const bob = user(112);
    const bobChat = privateChat(bob);
    sendVideo(fake, bobChat, bob, clip, { as: 'document' });
    await until('second download', () => fake.fileDownloads.length === 2 && fake.fileDownloads[1].done);
    lock!.release();
    await menuIn(fake, chat.id);
    await menuIn(fake, bobChat.id);
    const files = libraryFiles(config);
    for (const name of ['sunset.png', 'green.png', '.defaults.json']) expect(files).toContain(name);
    expect(files.filter((f) => !f.startsWith('.'))).toHaveLength(DEFAULT_BACKGROUNDS.length);
    expect(files).not.toContain(DEFAULTS_LOCK);
    // the gallery picture above the menu
    expect(botMessages(fake, chat.id).filter((m) => m.photo).length).toBe(1);
  });

  it('a request that breaks inside the bot is answered and logged; the next one is served', async () => {
    const { fake, config } = await startStack({ worker: false });
    const ann = user(121);
    const chat = privateChat(ann);
    // A real fault: a file sits where the bot's download folder goes, so the handler throws.
    const incoming = path.join(config.dataDir, 'incoming');
    mkdirSync(incoming, { recursive: true });
    writeFileSync(path.join(incoming, 'telegram'), 'in the way');
    sendVideo(fake, chat, ann, clip, { as: 'document' });
    const failed = await until('the failure answered', () => botMessages(fake, chat.id).find((m) => m.text?.startsWith('❌')));
    expect(failed.text).toMatch(/EEXIST|ENOTDIR|not a directory|file already exists/i);
    rmSync(path.join(incoming, 'telegram'));
    sendVideo(fake, chat, ann, clip, { as: 'document' });
    await menuIn(fake, chat.id, failed.message_id);
  });

  it('private chat: a video → menu → a background with HTML specials → status → the video with its stats; commands', async () => {
    const { fake, service, config } = await startStack();
    addLibraryFile(config, picture, HTML_BG);
    const ann = user(101);
    const chat = privateChat(ann);
    // the command menu is set at start, in both languages
    const commands = fake.calls.filter((c) => c.method === 'setMyCommands');
    expect(commands.map((c) => (c.params.language_code as string | undefined) ?? '')).toEqual(['', 'zh']);

    const sent = sendVideo(fake, chat, ann, clip, { name: 'my <best> & "dance".mp4', as: 'document' });
    let menu = await menuIn(fake, chat.id);
    expect(menu.reply_to_message_id).toBe(sent.message_id);
    expect(menu.text).toContain('my <best> & "dance".mp4');
    // the gallery comes just above the menu: a picture of the backgrounds, numbered in menu order
    const menuPicture = botMessages(fake, chat.id).find((m) => m.photo && m.message_id < menu.message_id)!;
    expect(menuPicture.reply_to_message_id).toBe(sent.message_id);
    expect(menuPicture.caption).toMatch(/^Backgrounds[\s\S]*\n1\. Green screen\n[\s\S]*rock&roll <live>[\s\S]*menu below/);
    const menuPhotoCall = fake.calls.find((c) => c.method === 'sendPhoto')!;
    expect((await ffprobeJson(menuPhotoCall.files[0].path)).streams[0]).toMatchObject({ codec_name: 'mjpeg', width: 4 * 160 + 5 * 6 });
    expect(menu.text).toMatch(/96×96/);
    // page through to the background with the awkward name (the library is sorted by name)
    for (let i = 0; i < 5 && !buttons(menu).some((b) => b.text.includes(HTML_BG)); i++) {
      fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, '›') });
      const before = menu.edits;
      menu = await until('menu page', () => {
        const m = message(fake, chat.id, menu.message_id);
        return m.edits > before ? m : undefined;
      });
    }
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, HTML_BG) });
    menu = await until('background picked', () => {
      const m = message(fake, chat.id, menu.message_id);
      return buttons(m).some((b) => b.text === `✅ ${HTML_BG}`) ? m : undefined;
    });
    expect(menu.text).toContain(`Background: ${HTML_BG}`);
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, /Start/) });

    const upload = await fake.waitForCall((c) => c.method === 'sendVideo', 90_000);
    expect(upload.status).toBe(200);
    expect(upload.params).toMatchObject({ supports_streaming: true, width: 192, height: 192, duration: 1, parse_mode: 'HTML' });
    const video = upload.files.find((f) => f.filename.endsWith('.enhanced.mp4'))!;
    const probe = await ffprobeJson(video.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 192, height: 192 });
    expect(upload.files.some((f) => f.filename === 'thumb.jpg')).toBe(true);
    const delivered = botMessages(fake, chat.id).find((m) => m.video)!;
    // the caption as the user sees it (HTML parsed by the fake, which refuses bad markup)
    expect(delivered.caption).toContain('my <best> & "dance".mp4');
    expect(delivered.caption).toContain(HTML_BG);
    for (const stage of ['decode', 'upscale', 'matte', 'compose']) expect(delivered.caption).toMatch(new RegExp(`${stage}: \\d+\\.\\d\\d s · \\d+\\.\\d fps`));
    expect(delivered.caption).toMatch(/total \d+\.\d\d s · \d+\.\d\dx realtime/);
    expect(delivered.caption).toMatch(/device: .*cpu/);

    // the status message ends as "done", without buttons; its edits were at least ~3 s apart
    const status = await until('final status', () => {
      const m = message(fake, chat.id, menu.message_id);
      return m.text?.includes('Done') ? m : undefined;
    });
    expect(buttons(status)).toEqual([]);
    const statusEdits = fake.calls.filter((c) => c.method === 'editMessageText' && c.params.message_id === menu.message_id && c.status === 200);
    const afterStart = statusEdits.filter((c) => !String(c.params.text).includes('Pick a background'));
    // A tiny clip can finish inside the first 3 s throttle window; when there was time for more than
    // the final edit, the moving status must have been shown.
    if (afterStart.length > 1) expect(afterStart.some((c) => /queued|preparing|upscaling|matting|encoding/.test(String(c.params.text)))).toBe(true);
    for (let i = 1; i < afterStart.length; i++) expect(afterStart[i].at - afterStart[i - 1].at).toBeGreaterThanOrEqual(2900);

    // the menu of an ended job
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, /Start/), force: true });
    await until('ended answer', () => fake.answeredCallbacks.find((a) => a.text === 'This job has ended.'));

    // commands
    fake.userMessage({ chat, from: ann, text: '/queue' });
    await until('queue answer', () => botMessages(fake, chat.id).find((m) => m.text?.includes('no videos queued')));
    fake.userMessage({ chat, from: ann, text: '/lang zh' });
    await until('lang answer', () => botMessages(fake, chat.id).find((m) => m.text === '语言：中文。'));
    fake.userMessage({ chat, from: ann, text: '/help' });
    await until('help in Chinese', () => botMessages(fake, chat.id).find((m) => m.text?.includes('发送视频')));
    fake.userMessage({ chat, from: ann, text: '/bg' });
    const gallery = await fake.waitForCall((c) => c.method === 'sendPhoto' && String(c.params.caption).includes('绿幕'), 20_000);
    expect(gallery.status).toBe(200);
    // rendered once for the menu and reused for /bg: the library did not change
    expect((await readdir(path.join(service.config.dataDir, 'cache', 'gallery'))).filter((f) => f.endsWith('.jpg'))).toHaveLength(1);
    expect(String(gallery.params.caption)).toMatch(/1\. 绿幕[\s\S]*rock&amp;roll &lt;live&gt;/);
    expect((await ffprobeJson(gallery.files[0].path)).streams[0]).toMatchObject({ width: 4 * 160 + 5 * 6 });
    expect(await service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active')).toEqual({ waiting: 0, prioritized: 0, active: 0 });
  });

  it('group (privacy mode): /enhance in reply to a video; a non-admin stranger cannot press; an admin can; a 413 upload becomes a link', async () => {
    const { fake } = await startStack({ fake: { groupPrivacy: true } });
    const group: Chat = { id: -1001, type: 'supergroup', title: 'Dancers' };
    const ann = user(201);
    const bob = user(202);
    const admin = user(203);
    fake.setAdmins(group.id, [admin]);
    const plain = sendVideo(fake, group, ann, clip);
    await sleep(500);
    expect(botMessages(fake, group.id)).toEqual([]); // a video without /enhance is not for the bot
    fake.userMessage({ chat: group, from: ann, text: '/enhance', reply_to_message_id: plain.message_id });
    const menu = await menuIn(fake, group.id);
    expect(menu.reply_to_message_id).toBe(plain.message_id);

    const before = message(fake, group.id, menu.message_id);
    const q = fake.pressButton({ chat: group, from: bob, messageId: menu.message_id, data: button(menu, /Start/) });
    const refused = await until('alert', () => fake.answeredCallbacks.find((a) => a.id === q));
    expect(refused).toMatchObject({ show_alert: true });
    expect(refused.text).toMatch(/Only the person who sent this video or a chat admin/);
    await sleep(300);
    expect(message(fake, group.id, menu.message_id).edits).toBe(before.edits);

    fake.failNext('sendVideo', { error_code: 413, description: 'Request Entity Too Large' });
    fake.pressButton({ chat: group, from: admin, messageId: menu.message_id, data: button(menu, /Start/) });
    const linkMsg = await until('link message', () => botMessages(fake, group.id).find((m) => m.text?.includes('/files/')), 90_000);
    expect(linkMsg.text).toMatch(/Download it/);
    // the signed link, readable as the user sees it (& escaped in the HTML, plain in the text)
    expect(linkMsg.text).toMatch(/https?:\/\/\S+\/files\/\S+\?exp=\d+&sig=\S+/);
    await until('final status', () => message(fake, group.id, menu.message_id).text?.includes('Done'));

    // a video captioned /enhance also works
    sendVideo(fake, group, ann, clip, { caption: '/enhance', as: 'animation' });
    const captioned = await menuIn(fake, group.id, menu.message_id);

    // auto-enhance: only admins may turn it on; then every video gets a menu
    fake.userMessage({ chat: group, from: bob, text: '/settings auto on' });
    await until('admins only', () => botMessages(fake, group.id).find((m) => m.text?.includes('Only the admins')));
    fake.userMessage({ chat: group, from: admin, text: '/settings auto on' });
    await until('auto on', () => botMessages(fake, group.id).find((m) => m.text?.includes('auto-enhance every video: on')));
    // in privacy mode a plain video reaches the bot only once it is an admin of the group
    fake.setAdmins(group.id, [admin, fake.botUser.id]);
    sendVideo(fake, group, bob, clip);
    await menuIn(fake, group.id, captioned.message_id);
  });

  it('a result over the configured upload limit: a copy fitted under it, with the signed link and a caption that says it was fitted', async () => {
    const limit = 12 * 1024;
    const { fake, service } = await startStack({ env: { TELEGRAM_UPLOAD_LIMIT_MB: String(limit / 1024 / 1024) } });
    const ann = user(601);
    const chat = privateChat(ann);
    sendVideo(fake, chat, ann, clip);
    const menu = await menuIn(fake, chat.id);
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, /Start/) });
    const sent = await fake.waitForCall((c) => c.method === 'sendVideo', 90_000);
    expect(sent.status).toBe(200);
    expect(sent.files[0].bytes).toBeLessThanOrEqual(limit);
    const job = (await service.queues.enhance.getJobs(['completed'])).find(Boolean);
    expect((job?.returnvalue as { result?: { bytes?: number } } | undefined)?.result?.bytes).toBeGreaterThan(limit);
    const caption = String(sent.params.caption);
    expect(caption).toMatch(/Re-encoded to fit the .* limit/);
    expect(caption).toMatch(/<a href="[^"]*\/files\/[^"]*sig=[^"]*">Download original quality<\/a>/);
    await until('final status', () => message(fake, chat.id, menu.message_id).text?.includes('Done'));
    // One delivery: the fitted copy carries the link, no separate link message.
    expect(fake.calls.filter((c) => c.method === 'sendVideo')).toHaveLength(1);
    expect(botMessages(fake, chat.id).some((m) => m.text?.includes('/files/'))).toBe(false);
  });

  it('the menu\'s upscaler model and matting network go into the job\'s options', async () => {
    const { fake, service } = await startStack({ worker: false });
    const ann = user(611);
    const chat = privateChat(ann);
    sendVideo(fake, chat, ann, clip);
    const menu = await menuIn(fake, chat.id);
    const shown = () => buttons(message(fake, chat.id, menu.message_id)).map((b) => b.text);
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, 'anime') });
    await until('anime marked', () => shown().includes('✅ anime'));
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, 'fine hair') });
    await until('fine hair marked', () => shown().includes('✅ fine hair'));
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, /Start/) });
    await until('queued', () => message(fake, chat.id, menu.message_id).text?.includes('queued'));
    const [job] = await service.queues.enhance.getJobs(['waiting', 'prioritized']);
    expect(job.data.options).toMatchObject({ model: 'anime', mattingModel: 'resnet50' });
  });

  it('cancel while queued, a 429 on the status edit, /cancel, ended menus', async () => {
    const { fake, service } = await startStack({ worker: false });
    const ann = user(301);
    const chat = privateChat(ann);
    sendVideo(fake, chat, ann, clip);
    const menu = await menuIn(fake, chat.id);
    fake.failNext('editMessageText', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, /Start/) });
    const status = await until('queued status', () => {
      const m = message(fake, chat.id, menu.message_id);
      return m.text?.includes('queued (position 1)') ? m : undefined;
    });
    const edits = fake.calls.filter((c) => c.method === 'editMessageText');
    expect(edits[0].status).toBe(429);
    expect(edits[1].status).toBe(200);
    expect(edits[1].at - edits[0].at).toBeGreaterThanOrEqual(950);

    fake.pressButton({ chat, from: ann, messageId: status.message_id, data: button(status, /Cancel/) });
    await until('cancelled status', () => message(fake, chat.id, menu.message_id).text?.includes('Cancelled.'));
    expect(await service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active')).toEqual({ waiting: 0, prioritized: 0, active: 0 });
    fake.pressButton({ chat, from: ann, messageId: status.message_id, data: button(status, /Cancel/), force: true });
    await until('ended answer', () => fake.answeredCallbacks.find((a) => a.text === 'This job has ended.'));

    // /cancel cancels queued jobs too; the menu's own Cancel drops a menu
    sendVideo(fake, chat, ann, clip);
    const second = await menuIn(fake, chat.id, status.message_id);
    fake.pressButton({ chat, from: ann, messageId: second.message_id, data: button(second, /Start/) });
    await until('queued', () => message(fake, chat.id, second.message_id).text?.includes('queued'));
    fake.userMessage({ chat, from: ann, text: '/cancel' });
    await until('cancel reply', () => botMessages(fake, chat.id).find((m) => m.text === 'Cancelling 1 video.'));
    await until('second cancelled', () => message(fake, chat.id, second.message_id).text?.includes('Cancelled.'));
    sendVideo(fake, chat, ann, clip);
    const third = await menuIn(fake, chat.id, second.message_id);
    fake.pressButton({ chat, from: ann, messageId: third.message_id, data: button(third, /Cancel/) });
    await until('menu cancelled', () => message(fake, chat.id, third.message_id).text === 'Cancelled.');
    expect(fake.calls.some((c) => c.method === 'sendVideo')).toBe(false);
  });

  it('/cancel counts a running job that no live worker holds (its cancel is recorded for the next worker)', async () => {
    const { fake, service, config } = await startStack({ worker: false });
    const ann = user(621);
    const chat = privateChat(ann);
    sendVideo(fake, chat, ann, clip);
    const menu = await menuIn(fake, chat.id);
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, /Start/) });
    await until('queued', () => message(fake, chat.id, menu.message_id).text?.includes('queued'));
    // A worker that takes the job and then says nothing: it holds the lock but hears no cancel,
    // as one cut off from Redis's pub/sub or about to die would.
    const conn = new Redis(config.redis.url, { maxRetriesPerRequest: null });
    const silent = new Worker(ENHANCE_QUEUE, null, { connection: conn, prefix: config.queue.prefix });
    try {
      const taken = await silent.getNextJob('silent-token');
      expect(taken).toBeDefined();
      expect(await service.queues.enhance.getJobCounts('active')).toEqual({ active: 1 });
      fake.userMessage({ chat, from: ann, text: '/cancel' });
      await until('cancel reply', () => botMessages(fake, chat.id).find((m) => m.text === 'Cancelling 1 video.'), 30_000);
    } finally {
      await silent.close(true);
      conn.disconnect();
    }
  });

  it('bad inputs and the 20 MB cloud limit: one clear message, nothing queued, nothing downloaded when too big', async () => {
    const { fake, service } = await startStack({ worker: false, env: { TELEGRAM_ADMINS: '402' } });
    const li = user(401, 'zh-hans');
    const chat = privateChat(li);
    const notes = work('notes.mp4');
    writeFileSync(notes, 'not a video at all\n');
    sendVideo(fake, chat, li, notes, { as: 'document' });
    await until('not a video (zh)', () => botMessages(fake, chat.id).find((m) => m.text?.includes('这不是视频文件')));

    const bob = user(402);
    const bobChat = privateChat(bob);
    const f = fake.addFile({ sizeBytes: 21 * 1024 * 1024 }, { name: 'huge.mp4', mime: 'video/mp4' });
    fake.userMessage({ chat: bobChat, from: bob, video: { file_id: f.file_id, width: 1920, height: 1080, duration: 30 } });
    const refusal = await until('too big', () => botMessages(fake, bobChat.id).find((m) => m.text?.includes('20 MB')));
    expect(refusal.text).toMatch(/21\.0 MB/);
    expect(refusal.text).toMatch(/self-hosted Bot API server/);
    expect(fake.calls.some((c) => c.method === 'getFile' && c.params.file_id === f.file_id)).toBe(false);

    fake.userMessage({ chat: bobChat, from: bob, photo: fake.addFile(readPng(), { name: 'p.png', mime: 'image/png' }).file_id });
    await until('photo refused', () => botMessages(fake, bobChat.id).find((m) => m.text?.includes('This is not a video file')));
    expect(await service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed')).toEqual({ waiting: 0, prioritized: 0, active: 0, completed: 0, failed: 0 });

    // the owner's commands: /bg add (in reply to a picture), /bg remove, /stats; others are refused
    const pic = fake.userMessage({ chat: bobChat, from: bob, photo: fake.addFile(readPng(), { name: 'p.png', mime: 'image/png' }).file_id });
    fake.userMessage({ chat, from: li, text: '/stats' });
    await until('owner only', () => botMessages(fake, chat.id).find((m) => m.text?.includes('只有机器人的所有者')));
    fake.userMessage({ chat: bobChat, from: bob, text: '/bg add ../evil', reply_to_message_id: pic.message_id });
    await until('bad name', () => botMessages(fake, bobChat.id).find((m) => m.text?.includes('A background name is')));
    fake.userMessage({ chat: bobChat, from: bob, text: '/bg add Beach 2', reply_to_message_id: pic.message_id });
    await until('added', () => botMessages(fake, bobChat.id).find((m) => m.text === '✅ Background Beach 2 added.'));
    fake.userMessage({ chat: bobChat, from: bob, text: '/bg remove beach 2' });
    await until('removed', () => botMessages(fake, bobChat.id).find((m) => m.text === 'Background Beach 2 removed.'));
    fake.userMessage({ chat: bobChat, from: bob, text: '/stats' });
    await until('stats', () => botMessages(fake, bobChat.id).find((m) => m.text?.startsWith('Queue: 0 waiting')));
  });

  it('a self-hosted Bot API server (--local): a 60 MB input is accepted, read from its local path', async () => {
    const { fake } = await startStack({ fake: { localMode: true }, env: { TELEGRAM_LOCAL_MODE: 'true', TELEGRAM_UPLOAD_LIMIT_MB: '2000' } });
    const ann = user(501);
    const chat = privateChat(ann);
    sendVideo(fake, chat, ann, big60, { as: 'document' });
    const menu = await menuIn(fake, chat.id);
    expect(menu.text).toMatch(/96×96/);
    const getFile = fake.calls.find((c) => c.method === 'getFile')!;
    expect(path.isAbsolute(String((getFile.response as { result: { file_path: string } }).result.file_path))).toBe(true);
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(menu, 'keep cut-out') });
    await until('keep cut-out on', () => buttons(message(fake, chat.id, menu.message_id)).some((b) => b.text === '✅ keep cut-out'));
    fake.pressButton({ chat, from: ann, messageId: menu.message_id, data: button(message(fake, chat.id, menu.message_id), /Start/) });
    const upload = await fake.waitForCall((c) => c.method === 'sendVideo', 90_000);
    expect(upload.status).toBe(200);
    expect(upload.params).toMatchObject({ width: 192, height: 192 });

    // "Another background": the kept input submitted again with the new background (a queue job, no ffmpeg in the bot)
    const video = await until('video message', () => botMessages(fake, chat.id).find((m) => m.video));
    const calls = fake.calls.length;
    fake.pressButton({ chat, from: ann, messageId: video.message_id, data: button(video, /Another background/) });
    const again = await menuIn(fake, chat.id, video.message_id);
    expect(again.text).toMatch(/another background/);
    expect(buttons(again).some((b) => /x2|upscale only/.test(b.text))).toBe(false);
    fake.pressButton({ chat, from: ann, messageId: again.message_id, data: button(again, 'Green screen') });
    await until('green picked', () => buttons(message(fake, chat.id, again.message_id)).some((b) => b.text === '✅ Green screen'));
    fake.pressButton({ chat, from: ann, messageId: again.message_id, data: button(message(fake, chat.id, again.message_id), /Start/) });
    const second = await fake.waitForCall((c) => c.method === 'sendVideo', 90_000, { since: calls });
    expect(second.status).toBe(200);
    expect(String(second.params.caption)).toMatch(/Green screen/);
    expect(second.params).toMatchObject({ width: 192, height: 192 });
    await until('recompose done', () => message(fake, chat.id, again.message_id).text?.includes('Done'));
  });
});

function readPng(): string {
  return picture;
}
