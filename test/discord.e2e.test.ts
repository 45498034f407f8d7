/**
 * The Discord bot end to end: the real discord.js client logs in to the fake Discord
 * (test/fakes/discord.ts: REST v10 + gateway WebSocket + CDN on 127.0.0.1), jobs go through real
 * Redis and an in-process enhance worker running ffmpeg's upscaler and RVM on tiny clips.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { backgroundsDir, DEFAULT_BACKGROUNDS, DEFAULTS_LOCK } from '../src/backgrounds/library.js';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { Service } from '../src/service/context.js';
import type { EnhanceWorker } from '../src/queue/worker.js';
import { startDiscordBot, type DiscordBot } from '../src/bots/discord/bot.js';
import pino from 'pino';
import type { Config } from '../src/config/schema.js';
import { Permission, startFakeDiscord, type DiscordUser, type FakeDiscord, type FakeDiscordOptions, type MessageView } from './fakes/discord.js';
import { ffprobeJson, tempDir } from './helpers/media.js';
import { testConfig } from './helpers/fixtures.js';
import { addLibraryFile, botMedia, holdLibraryLock, HTML_BG, libraryFiles, openBotService } from './helpers/bot-stack.js';
import { sleep, until } from './helpers/wait.js';

/** A stack starts from an empty data dir: its first menu waits for the library's start-up run (slow on a busy 2-core machine). */
const MENU_WAIT_MS = 180_000;

const tmp = tempDir('dancelift-dc-');
const MiB = 1024 * 1024;
/** The bot's log, in a file (DISCORD_E2E_LOG to choose where): what it did when a test fails. */
const logger = pino({ level: 'debug', base: undefined }, pino.destination({ dest: process.env.DISCORD_E2E_LOG ?? path.join(tmp.dir, 'bot.log'), sync: true, mkdir: true }));

let clip: string;
let picture: string;

interface Stack {
  fake: FakeDiscord;
  service: Service;
  bot: DiscordBot;
  worker?: EnhanceWorker;
  config: Config;
  /** Stops the bot only (a restart), keeping the fake, Redis and the queue. */
  restartBot(): Promise<DiscordBot>;
  startWorker(): void;
  close(): Promise<void>;
}
const stacks: Stack[] = [];

async function startStack(opts: { fake?: FakeDiscordOptions; env?: Record<string, string>; worker?: boolean; tweak?: (c: Config) => void; beforeBot?: (c: Config) => void } = {}): Promise<Stack> {
  const fake = await startFakeDiscord(opts.fake);
  // What the bot did, when a test fails: the REST calls in order.
  onTestFailed(() => {
    console.log(fake.calls.map((c) => `${new Date(c.at).toISOString().slice(17, 23)} ${c.method} ${c.route} ${c.status} ${JSON.stringify(c.response ?? '').slice(0, 160)}`).join('\n'));
  });
  const base = await openBotService(tmp.dir, {
    platform: 'discord',
    prefix: 'dldc',
    env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.apiBase, ...opts.env },
    worker: opts.worker,
    tweak: (c) => {
      c.discord.pollIntervalMs = 500;
      c.discord.editIntervalMs = 300;
      opts.tweak?.(c);
    },
  });
  const { service, config } = base;
  opts.beforeBot?.(config);
  let bot = await startDiscordBot(service, logger);
  const stack: Stack = {
    fake,
    service,
    bot,
    worker: base.worker,
    config,
    async restartBot() {
      await bot.close();
      bot = await startDiscordBot(service, logger);
      stack.bot = bot;
      return bot;
    },
    startWorker() {
      stack.worker = base.startWorker();
    },
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
});

afterEach(async () => {
  while (stacks.length > 0) await stacks.pop()!.close();
});

afterAll(() => tmp.remove());

type Comp = { type: number; custom_id?: string; label?: string; url?: string; style?: number; options?: Array<{ label: string; value: string; default?: boolean }>; components?: Comp[] };
const flat = (m: MessageView): Comp[] => (m.components as Comp[]).flatMap((r) => r.components ?? []);
const select = (m: MessageView) => flat(m).find((c) => c.type === 3);
const button = (m: MessageView, label: RegExp) => {
  const b = flat(m).find((c) => c.type === 2 && label.test(c.label ?? ''));
  if (!b) throw new Error(`no button ${label} in ${JSON.stringify(flat(m).map((c) => c.label))}`);
  return b;
};
const option = (m: MessageView, label: string) => {
  const o = select(m)?.options?.find((x) => x.label === label);
  if (!o) throw new Error(`no option ${label}`);
  return o.value;
};
const botMessages = (fake: FakeDiscord, channelId = fake.channelId) => fake.messages(channelId).filter((m) => m.fromBot);
/** The public menu: a bot message with a select. */
const menuIn = (fake: FakeDiscord, after?: string) => until('the menu', () => botMessages(fake).find((m) => !m.ephemeral && select(m) && (!after || BigInt(m.id) > BigInt(after))), MENU_WAIT_MS);
const ephemeralWith = (fake: FakeDiscord, re: RegExp, channelId = fake.channelId) => until(`ephemeral ${re}`, () => fake.messages(channelId).find((m) => m.ephemeral && re.test(m.content)));

function enhance(fake: FakeDiscord, user: DiscordUser, file: string, opts: { filename?: string; contentType?: string; options?: Record<string, string | boolean>; locale?: string } = {}) {
  const att = fake.addAttachment(file, { filename: opts.filename ?? path.basename(file), content_type: opts.contentType ?? 'video/mp4' });
  return fake.slashCommand({ name: 'enhance', user, attachments: { video: att }, ...(opts.options ? { options: opts.options } : {}), ...(opts.locale ? { locale: opts.locale } : {}) });
}

describe('discord bot', () => {
  it('fresh install: the first /enhance is deferred before the library is made; the menu follows the one start-up run', async () => {
    // The library folder's lock is held, as by another process making the defaults (a CLI
    // submit): the bot's start-up run waits on it, so nothing of the library exists yet.
    let lock: { release(): void } | undefined;
    const { fake, config } = await startStack({ worker: false, beforeBot: (c) => void (lock = holdLibraryLock(c)) });
    const ann = fake.addUser({ username: 'ann' });
    const cmd = enhance(fake, ann, clip);
    expect((await fake.waitForResponse(cmd.id)).type).toBe(5);
    // acknowledged while the library does not exist yet; the download goes on meanwhile
    expect(libraryFiles(config)).toEqual([DEFAULTS_LOCK]);
    await until('downloaded', () => fake.downloads.some((d) => d.status === 200));
    expect(botMessages(fake).some((m) => select(m))).toBe(false);
    // a second user's /enhance is acknowledged too and waits for the same run
    const bob = fake.addUser({ username: 'bob' });
    const cmd2 = enhance(fake, bob, clip, { options: { background: 'sunset' } });
    expect((await fake.waitForResponse(cmd2.id)).type).toBe(5);
    lock!.release();
    const menu = await menuIn(fake);
    expect(menu.attachments.map((a) => a.filename)).toEqual(['backgrounds.jpg']);
    await until('the preset request queued', () => botMessages(fake).find((m) => !m.ephemeral && /queued/.test(m.content)));
    const files = libraryFiles(config);
    expect(files.filter((f) => !f.startsWith('.'))).toHaveLength(DEFAULT_BACKGROUNDS.length);
    expect(files).not.toContain(DEFAULTS_LOCK);
  });

  it('a request that breaks inside the bot is answered and logged; the next one is served', async () => {
    const { fake, config } = await startStack({ worker: false });
    const ann = fake.addUser({ username: 'ann' });
    // A real fault: a file sits where the bot's download folder goes, so the handler throws.
    const incoming = path.join(config.dataDir, 'incoming');
    mkdirSync(incoming, { recursive: true });
    writeFileSync(path.join(incoming, 'discord'), 'in the way');
    enhance(fake, ann, clip);
    const failed = await ephemeralWith(fake, /^❌/);
    expect(failed.content).toMatch(/EEXIST|ENOTDIR|not a directory|file already exists/i);
    rmSync(path.join(incoming, 'discord'));
    enhance(fake, ann, clip);
    await menuIn(fake);
  });

  it('logs in, registers its commands; /enhance → menu with gallery → a stranger is refused, a Manage Server member may choose → the video with its stats embed', async () => {
    const stack = await startStack();
    const { fake, service } = stack;
    addLibraryFile(stack.config, picture, HTML_BG);
    // registration: global (no DISCORD_GUILD_IDS), the five commands
    expect(fake.commands().map((c) => c.name).sort()).toEqual(['Enhance video', 'bg', 'enhance', 'queue', 'stats']);
    const ann = fake.addUser({ username: 'ann' });
    const bob = fake.addUser({ username: 'bob' });
    const mod = fake.addUser({ username: 'mod' });

    // autocomplete of the background option (once the start-up run has listed the library)
    await stack.bot.library.ready();
    const ac = fake.autocomplete({ name: 'enhance', user: ann, focused: 'background', options: { background: 'sun' } });
    const acr = await fake.waitForResponse(ac.id);
    expect(acr.type).toBe(8);
    expect((acr.data?.choices as Array<{ value: string }>).map((c) => c.value)).toContain('sunset');

    const cmd = enhance(fake, ann, clip, { filename: 'my best dance.mp4' });
    const ack = await fake.waitForResponse(cmd.id);
    expect(ack.type).toBe(5); // deferred at once
    let menu = await menuIn(fake);
    expect(fake.downloads.some((d) => d.status === 200)).toBe(true);
    // Discord cleans attachment names (spaces → _); the markdown escapes the underscores
    expect(menu.content).toContain('my\\_best\\_dance.mp4');
    expect(menu.content).toMatch(/96×96/);
    expect(menu.attachments.map((a) => a.filename)).toEqual(['backgrounds.jpg']);
    // the deferred ephemeral note is gone once the menu is out
    await until('note deleted', () => !fake.messages().some((m) => m.ephemeral && m.interactionId === cmd.id));

    // a stranger picks: an ephemeral refusal, the menu unchanged
    const before = menu.edits;
    const sel = select(menu)!;
    const p1 = fake.pressComponent({ user: bob, messageId: menu.id, customId: sel.custom_id!, values: [option(menu, HTML_BG)] });
    expect((await fake.waitForResponse(p1.id)).type).toBe(6);
    await ephemeralWith(fake, /Only the person who sent this video/);
    await sleep(400);
    expect(fake.message(menu.id)!.edits).toBe(before);

    // a member with Manage Server may
    fake.pressComponent({ user: mod, messageId: menu.id, customId: sel.custom_id!, values: [option(menu, HTML_BG)], memberPermissions: Permission.MANAGE_GUILD | Permission.VIEW_CHANNEL });
    menu = await until('background picked', () => {
      const m = fake.message(menu.id)!;
      return select(m)?.options?.find((o) => o.default)?.label === HTML_BG ? m : undefined;
    });
    expect(menu.content).toContain('rock&roll \\<live\\>');
    fake.pressComponent({ user: ann, messageId: menu.id, customId: button(menu, /Start/).custom_id! });

    const upload = await fake.waitForCall((c) => c.files.some((f) => f.filename.endsWith('.enhanced.mp4')), 90_000);
    expect(upload.status).toBe(200);
    expect(upload.route).toBe('/webhooks/:app/:token'); // a follow-up while the token lives
    const video = upload.files[0];
    const probe = await ffprobeJson(video.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 192, height: 192 });
    const delivered = await until('delivered message', () => botMessages(fake).find((m) => m.attachments.some((a) => a.filename.endsWith('.enhanced.mp4'))));
    const embed = delivered.embeds[0] as { title: string; fields: Array<{ name: string; value: string }> };
    expect(embed.title).toContain(HTML_BG);
    for (const stage of ['decode', 'upscale', 'matte', 'compose']) expect(embed.fields.find((f) => f.name.startsWith(stage))?.value).toMatch(/^\d+\.\d\d s · \d+\.\d fps$/);
    expect(embed.fields.find((f) => f.name === 'total')?.value).toMatch(/^\d+\.\d\d s · \d+\.\d\dx realtime$/);
    expect(embed.fields.find((f) => f.name === 'device')?.value).toMatch(/cpu/);
    const dl = button(delivered, /Download original quality/);
    expect(dl.style).toBe(5);
    expect(dl.url).toMatch(/\/files\/\S+\?exp=\d+&sig=/);

    // the status message ends as done, without components, and without the gallery
    const status = await until('final status', () => {
      const m = fake.message(menu.id)!;
      return m.content.includes('Done') ? m : undefined;
    });
    expect(status.components).toEqual([]);
    expect(status.attachments).toEqual([]);
    expect(await service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active')).toEqual({ waiting: 0, prioritized: 0, active: 0 });
  });

  it('/enhance with a background submits at once; Cancel while queued; the "Enhance video" message command offers the menu', async () => {
    const { fake, service } = await startStack({ worker: false });
    const ann = fake.addUser({ username: 'ann' });
    const cmd = enhance(fake, ann, clip, { options: { background: 'sunset', scale: 'x4', keep_cutout: true, model: 'anime', matting: 'resnet50' } });
    expect((await fake.waitForResponse(cmd.id)).type).toBe(5);
    const status = await until('queued status', () => botMessages(fake).find((m) => !m.ephemeral && /queued \(position 1\)/.test(m.content)));
    expect(select(status)).toBeUndefined(); // no menu: everything was chosen
    const [job] = await service.queues.enhance.getJobs(['waiting', 'prioritized']);
    expect(job.data).toMatchObject({ background: 'sunset', options: { scale: 4, keepCutout: true, model: 'anime', mattingModel: 'resnet50' } });
    fake.pressComponent({ user: ann, messageId: status.id, customId: button(status, /Cancel/).custom_id! });
    await until('cancelled', () => fake.message(status.id)?.content.includes('Cancelled.'));
    expect(await service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active')).toEqual({ waiting: 0, prioritized: 0, active: 0 });

    // a user posts a video; someone runs the message command on it
    const att = fake.addAttachment(clip, { filename: 'posted.mp4', content_type: 'video/mp4' });
    const posted = fake.userMessage({ user: ann, content: 'look', attachments: [att] });
    fake.messageCommand({ name: 'Enhance video', user: ann, messageId: posted.id });
    const menu = await menuIn(fake, status.id);
    expect(menu.content).toContain('posted.mp4');
    // a message without a video: an ephemeral note
    const plain = fake.userMessage({ user: ann, content: 'no video here' });
    fake.messageCommand({ name: 'Enhance video', user: ann, messageId: plain.id });
    await ephemeralWith(fake, /no video attachment/);
  });

  it('a result over the place\'s upload limit (attachment_size_limit): a copy fitted under it, the link button, stats that say it was fitted', async () => {
    const limit = 12 * 1024;
    const { fake, service } = await startStack({ fake: { uploadLimitBytes: limit } });
    const ann = fake.addUser({ username: 'ann' });
    enhance(fake, ann, clip, { options: { background: 'white' } });
    const delivered = await until('delivered message', () => botMessages(fake).find((m) => m.attachments.some((a) => a.filename.endsWith('.enhanced.mp4'))), MENU_WAIT_MS);
    const uploads = fake.uploads.filter((u) => u.filename.endsWith('.mp4'));
    expect(uploads).toHaveLength(1);
    expect(uploads[0].bytes).toBeLessThanOrEqual(limit);
    // The original was over the limit: what arrived is the fitted copy, not the result itself.
    const job = (await service.queues.enhance.getJobs(['completed'])).find(Boolean);
    const output = (job?.returnvalue as { result?: { bytes?: number } } | undefined)?.result?.bytes;
    expect(output).toBeGreaterThan(limit);
    const dl = button(delivered, /Download original quality/);
    expect(dl).toMatchObject({ style: 5 });
    expect(dl.url).toMatch(/\/files\/\S+\?exp=\d+&sig=/);
    const fields = (delivered.embeds[0] as { fields: Array<{ name: string; value: string }> }).fields;
    expect(fields.find((f) => f.name === 'delivery')?.value).toMatch(/Re-encoded to fit the .* limit/);
  });

  it('the menu\'s upscaler model and matting network go into the job\'s options', async () => {
    const { fake, service } = await startStack({ worker: false });
    const ann = fake.addUser({ username: 'ann' });
    enhance(fake, ann, clip);
    const menu = await menuIn(fake);
    const labels = () => flat(fake.message(menu.id)!).map((c) => c.label ?? '');
    fake.pressComponent({ user: ann, messageId: menu.id, customId: button(menu, /^anime$/).custom_id! });
    await until('anime marked', () => labels().includes('✓ anime'));
    fake.pressComponent({ user: ann, messageId: menu.id, customId: button(menu, /^fine hair$/).custom_id! });
    await until('fine hair marked', () => labels().includes('✓ fine hair'));
    fake.pressComponent({ user: ann, messageId: menu.id, customId: button(menu, /Start/).custom_id! });
    await until('queued', () => fake.message(menu.id)?.content.includes('queued'));
    const [job] = await service.queues.enhance.getJobs(['waiting', 'prioritized']);
    expect(job.data.options).toMatchObject({ model: 'anime', mattingModel: 'resnet50' });
  });

  it('keep_cutout: "Another background" under the delivered video submits the kept input again with the new background', async () => {
    const { fake, service } = await startStack();
    const ann = fake.addUser({ username: 'ann' });
    const bob = fake.addUser({ username: 'bob' });
    enhance(fake, ann, clip, { options: { background: 'white', keep_cutout: true } });
    const first = await until('first delivery', () => botMessages(fake).find((m) => m.attachments.some((a) => a.filename.endsWith('.enhanced.mp4'))), MENU_WAIT_MS);
    const again = button(first, /Another background/);
    expect(button(first, /Download original quality/).style).toBe(5);
    const jobsBefore = (await service.queues.enhance.getJobs(['completed'])).length;

    // only the requester (or a Manage Server member) may ask for it
    fake.pressComponent({ user: bob, messageId: first.id, customId: again.custom_id! });
    await ephemeralWith(fake, /Only the person who sent this video/);
    fake.pressComponent({ user: ann, messageId: first.id, customId: again.custom_id! });
    let menu = await menuIn(fake, first.id);
    expect(menu.content).toMatch(/another background/i);
    fake.pressComponent({ user: ann, messageId: menu.id, customId: select(menu)!.custom_id!, values: [option(menu, 'Green screen')] });
    menu = await until('green picked', () => {
      const m = fake.message(menu.id)!;
      return select(m)?.options?.find((o) => o.default)?.label === 'Green screen' ? m : undefined;
    });
    const since = fake.calls.length;
    fake.pressComponent({ user: ann, messageId: menu.id, customId: button(menu, /Start/).custom_id! });
    const upload = await fake.waitForCall((c) => c.files.some((f) => f.filename.endsWith('.mp4')) && c.status === 200, 60_000, { since });
    const probe = await ffprobeJson(upload.files.find((f) => f.filename.endsWith('.mp4'))!.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 192, height: 192 });
    const second = await until('second delivery', () => botMessages(fake).find((m) => m.id !== first.id && m.attachments.some((a) => a.filename.endsWith('.mp4'))));
    expect((second.embeds[0] as { title: string }).title).toMatch(/Green screen/);
    await until('recompose done', () => fake.message(menu.id)?.content.includes('Done'));
    // a job of the queue, not ffmpeg in the bot: the kept input again, its cut-out kept, the new background
    const jobs = await service.queues.enhance.getJobs(['completed']);
    expect(jobs.length).toBe(jobsBefore + 1);
    const firstJob = jobs.find((j) => j.data.background === 'white')!;
    const recomposed = jobs.find((j) => j.data.background !== 'white')!;
    expect(recomposed.data.options).toEqual({ ...firstJob.data.options, keepCutout: true });
    expect(recomposed.data.input.bytes).toBe(firstJob.data.input.bytes);
  });

  it('a job that outlives the interaction token, across a bot restart: status and delivery through channel messages', async () => {
    const stack = await startStack({ worker: false, fake: { interactionTokenLifetimeMs: 5000 } });
    const { fake } = stack;
    // The 5 s token is for the job to outlive, not the start-up run of the library.
    await stack.bot.library.ready();
    const ann = fake.addUser({ username: 'ann' });
    enhance(fake, ann, clip, { options: { background: 'green' } });
    const status = await until('queued status', () => botMessages(fake).find((m) => !m.ephemeral && /queued/.test(m.content)));
    await stack.restartBot();
    // the restarted bot's commands are unchanged: registered once, by the first start
    expect(fake.calls.filter((c) => c.method === 'PUT' && c.route.endsWith('/commands')).length).toBe(1);
    await sleep(5500); // the token is dead now
    const since = fake.calls.length;
    stack.startWorker();
    const upload = await fake.waitForCall((c) => c.files.some((f) => f.filename.endsWith('.enhanced.mp4')) && c.status === 200, 90_000, { since });
    expect(upload.route).toBe('/channels/:channel/messages');
    expect((upload.body as { message_reference?: { message_id: string } }).message_reference?.message_id).toBe(status.id);
    expect((await ffprobeJson(upload.files[0].path)).streams[0]).toMatchObject({ codec_name: 'h264' });
    await until('final status', () => fake.message(status.id)?.content.includes('Done'));
    const edits = fake.calls.slice(since).filter((c) => c.method === 'PATCH' && c.status === 200);
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((c) => c.route === '/channels/:channel/messages/:message')).toBe(true);
  });

  it('bad inputs and limits: one clear ephemeral message in the user\'s language, nothing queued; admin commands', async () => {
    const { fake, service } = await startStack({ worker: false, env: { DISCORD_DOWNLOAD_LIMIT_MB: '50' }, tweak: (c) => (c.limits.perUserInFlight = 1) });
    const li = fake.addUser({ username: 'li' });
    const png = picture;
    // a picture: refused at once (type 4, ephemeral), in Chinese for a zh-CN client
    const c1 = enhance(fake, li, png, { filename: 'p.png', contentType: 'image/png', locale: 'zh-CN' });
    expect(await fake.waitForResponse(c1.id)).toMatchObject({ type: 4, data: { flags: 64 } });
    await ephemeralWith(fake, /这不是视频文件/);
    // a text file claiming to be a video: downloaded, ffprobe refuses it
    const notes = path.join(tmp.dir, 'notes.mp4');
    writeFileSync(notes, 'not a video at all\n');
    enhance(fake, li, notes);
    await ephemeralWith(fake, /This is not a video file/);
    // over the download limit: refused without downloading
    const huge = fake.addAttachment({ sizeBytes: 60 * MiB }, { filename: 'huge.mp4', content_type: 'video/mp4' });
    const downloads = fake.downloads.length;
    fake.slashCommand({ name: 'enhance', user: li, attachments: { video: huge } });
    await ephemeralWith(fake, /60\.0 MB; the bot takes videos up to 50 MB/);
    expect(fake.downloads.length).toBe(downloads);
    // an unknown background
    enhance(fake, li, clip, { options: { background: 'nowhere' } });
    await ephemeralWith(fake, /nowhere/);
    // per-user limit: one job at a time
    enhance(fake, li, clip, { options: { background: 'sunset' } });
    await until('queued', () => botMessages(fake).find((m) => !m.ephemeral && /queued \(position 1\)/.test(m.content)));
    enhance(fake, li, clip, { options: { background: 'sunset' } });
    await ephemeralWith(fake, /You already have 1 videos queued or in progress/);
    expect(await service.queues.enhance.getJobCounts('prioritized', 'active')).toEqual({ prioritized: 1, active: 0 });

    // admin commands (the guild's owner has every permission)
    const owner = fake.owner;
    fake.slashCommand({ name: 'stats', user: owner });
    await ephemeralWith(fake, /^Queue: 1 waiting/);
    fake.slashCommand({ name: 'queue', user: owner });
    await ephemeralWith(fake, /1\. \*\*clip\.mp4\*\* · discord li · ⏳ queued \(position 1\)/);
    const pic = fake.addAttachment(png, { filename: 'beach.png', content_type: 'image/png' });
    fake.slashCommand({ name: 'bg', subcommand: 'add', user: owner, attachments: { file: pic }, options: { name: 'Beach 2' } });
    await ephemeralWith(fake, /Background \*\*Beach 2\*\* added/);
    fake.slashCommand({ name: 'bg', subcommand: 'remove', user: owner, options: { name: 'beach 2' } });
    await ephemeralWith(fake, /Background \*\*Beach 2\*\* removed/);
    fake.slashCommand({ name: 'bg', subcommand: 'list', user: owner });
    const gallery = await until('gallery', () => botMessages(fake).find((m) => !m.ephemeral && m.attachments.some((a) => a.filename === 'backgrounds.jpg') && /Backgrounds/.test(m.content)), 30_000);
    expect(gallery.content).toMatch(/1\. /);
    // a member without Manage Server does not even see the admin commands
    expect(() => fake.slashCommand({ name: 'stats', user: li })).toThrow(/may not see/);

    // a server that is not allowed
    const other = await startStack({ worker: false, tweak: (c) => (c.limits.allowedChats = ['123']) });
    const zed = other.fake.addUser({ username: 'zed' });
    enhance(other.fake, zed, clip);
    await ephemeralWith(other.fake, /This chat is not allowed to use this bot/);
    expect(await other.service.queues.enhance.getJobCounts('waiting', 'prioritized')).toEqual({ waiting: 0, prioritized: 0 });
  });
});
