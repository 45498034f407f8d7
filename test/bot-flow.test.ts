/**
 * The platform-neutral flow against an in-memory ChatUi and the real Redis (a queue prefix of its
 * own), without a worker: menu → Start → the job's data → progress on the status message →
 * delivery → what the user can press next ("Render all" after a preview, "Another background"
 * with a kept cut-out). What the worker makes of these options is the queue's business; here the
 * options put in the job are the point.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotFlow } from '../src/bots/flow.js';
import { botLibrary, type BotLibrary } from '../src/bots/library-warmup.js';
import { parseCallback } from '../src/bots/menu.js';
import { plainText } from '../src/bots/rich.js';
import { botTexts } from '../src/bots/texts.js';
import type { DeliverJobData, Requester } from '../src/queue/jobs.js';
import { verifyLink } from '../src/web/links.js';
import { logger } from '../src/log.js';
import { buttonData, FakeChatUi } from './fakes/chat-ui.js';
import { botMedia, openBotService, type BotService } from './helpers/bot-stack.js';
import { sampleResult } from './helpers/fixtures.js';
import { tempDir } from './helpers/media.js';
import { until } from './helpers/wait.js';

const tmp = tempDir('dancelift-flow-');
let clip = '';
let stack: BotService;
let library: BotLibrary;
let ui: FakeChatUi;
let flow: BotFlow;
const log = logger.child({ test: 'bot-flow' });
const zh = botTexts('zh');

beforeAll(async () => {
  ({ clip } = await botMedia(tmp.dir));
  stack = await openBotService(tmp.dir, { platform: 'telegram', prefix: 'dlflow', env: {}, worker: false });
  library = botLibrary(stack.config, log);
  await library.ready();
  ui = new FakeChatUi(tmp.dir);
  flow = new BotFlow(stack.service, {
    platform: 'telegram',
    ui,
    uploadLimitBytes: 50 * 1024 * 1024,
    pollIntervalMs: 50,
    menuPageSize: 6,
    incomingDir: path.join(stack.config.dataDir, 'incoming', 'telegram'),
    library,
    log,
  });
}, 120_000);

afterAll(async () => {
  flow?.close();
  library?.stop();
  await stack?.close();
  tmp.remove();
});

const requesterOf = (userId: string): Requester => ({ platform: 'telegram', chatId: `chat-${userId}`, userId, locale: 'zh' });
const press = (data: string, userId: string) => flow.press(parseCallback(data)!, { userId, isAdmin: async () => false }, 'zh');

/** A download as an adapter leaves it, then the menu; returns the menu's message id. */
async function menuFor(requester: Requester): Promise<string> {
  const file = await flow.incomingPath('dance.mp4');
  await copyFile(clip, file);
  await flow.offerMenu({ requester, file, name: 'dance.mp4', replyTo: '99' });
  const menu = ui.events.filter((e) => e.kind === 'send' && e.chatId === requester.chatId).at(-1)!;
  return menu.id;
}

const menuButtons = (id: string) => ui.messages.get(id)!.buttons;

async function waitingJob(jobId?: string) {
  const jobs = await stack.service.queues.enhance.getJobs(['waiting', 'prioritized']);
  return jobId ? jobs.find((j) => j.id === jobId) : jobs.at(0);
}

/** A finished outcome for `job` whose output is a real (small) video in the outputs folder. */
async function outcomeFor(jobId: string, requester: Requester, background: string, extra: Partial<typeof sampleResult>): Promise<DeliverJobData> {
  const out = stack.service.storage.outputPathFor(jobId, 'enhanced', '.mp4');
  await mkdir(path.dirname(out.abs), { recursive: true });
  await copyFile(clip, out.abs);
  const result = { ...sampleResult, output: out.rel, bytes: (await stat(out.abs)).size, width: 96, height: 96, durationS: 1, ...extra };
  return { jobId, requester, inputName: 'dance.mp4', background, outcome: { ok: true, result, link: 'http://localhost:8080/files/x?exp=1&sig=s' } };
}

describe('bot flow (in-memory ChatUi, real Redis)', () => {
  it('menu → preview first, 9:16, transparent cut-out → Start → queued and followed → delivered with the WebM link → Render all', async () => {
    const ann = requesterOf('ann');
    const menuId = await menuFor(ann);
    // the gallery picture first, then the menu as a reply to the user's message
    expect(ui.events.filter((e) => e.chatId === ann.chatId).map((e) => e.kind)).toEqual(['photo', 'send']);
    expect(await press(buttonData(menuButtons(menuId), /先预览 5 秒/), 'ann')).toEqual({});
    await press(buttonData(menuButtons(menuId), /透明抠像/), 'ann');
    await press(buttonData(menuButtons(menuId), /^📐/), 'ann');
    expect(menuButtons(menuId)!.flat().map((b) => b.text)).toEqual(expect.arrayContaining(['✅ 先预览 5 秒', '✅ 透明抠像', '📐 9:16']));
    // someone else's press changes nothing
    expect(await press(buttonData(menuButtons(menuId), /^📐/), 'bob')).toMatchObject({ alert: true, text: zh.notYourMenu });

    await press(buttonData(menuButtons(menuId), /开始/), 'ann');
    const job = (await waitingJob())!;
    expect(job.data.options).toEqual({ scale: 2, keepCutout: false, preview: 5, exportAlpha: true, aspect: '9:16' });
    expect(job.data.requester).toMatchObject({ userId: 'ann', messageId: menuId });
    // the menu became the status message: queued, then its place as the tracker polls
    await until('queue place shown', () => plainText(ui.messages.get(menuId)!.text).includes('第 1 位'), 10_000);
    expect(buttonData(menuButtons(menuId), /取消/)).toMatch(/^j:/);

    await flow.deliver(await outcomeFor(job.id!, job.data.requester, job.data.background, { preview: { startS: 0, seconds: 1 }, exports: { webm: `${job.id}/alpha.webm`, mov: `${job.id}/alpha.mov` } }));
    const [video] = ui.videos().filter((v) => v.chatId === ann.chatId);
    expect(video.video.locale).toBe('zh');
    const alpha = new URL(video.video.stats!.alphaLink!);
    expect(alpha.pathname).toBe(`/files/${job.id}/alpha.webm`);
    expect(verifyLink(`${job.id}/alpha.webm`, alpha.searchParams.get('exp')!, alpha.searchParams.get('sig')!, stack.service.secret)).toBe('ok');
    expect(plainText(video.video.caption)).toContain('透明抠像（WebM）');
    expect(plainText(ui.messages.get(menuId)!.text)).toContain(zh.delivered);

    // "Render all": the same kept input and choices, the whole video, on a new status message
    await press(buttonData(video.video.buttons, /处理全片/), 'ann');
    const full = (await stack.service.queues.enhance.getJobs(['waiting', 'prioritized'])).find((j) => j.id !== job.id)!;
    expect(full.data.options).toEqual({ scale: 2, keepCutout: false, exportAlpha: true, aspect: '9:16' });
    expect(full.data.input.bytes).toBe(job.data.input.bytes);
    expect(full.data.requester.messageId).not.toBe(menuId);
    expect(ui.locales()).toEqual(['zh']);
  });

  it('keep cut-out: "Another background" submits the kept input again with the new background, for the requester only', async () => {
    const cy = requesterOf('cy');
    const menuId = await menuFor(cy);
    await press(buttonData(menuButtons(menuId), /保留抠像/), 'cy');
    await press(buttonData(menuButtons(menuId), /开始/), 'cy');
    const job = (await stack.service.queues.enhance.getJobs(['waiting', 'prioritized'])).find((j) => j.data.requester.userId === 'cy')!;
    expect(job.data.options).toMatchObject({ keepCutout: true });
    await flow.deliver(await outcomeFor(job.id!, job.data.requester, job.data.background, { cutout: `${job.id}/cutout.mkv` }));
    const video = ui.videos().find((v) => v.chatId === cy.chatId)!;
    const again = buttonData(video.video.buttons, /换个背景/);
    expect(video.video.buttons!.flat().some((b) => /处理全片/.test(b.text))).toBe(false);

    expect(await press(again, 'dan')).toMatchObject({ alert: true, text: zh.notYourMenu });
    expect(await press(again, 'cy')).toEqual({});
    const menu = ui.events.filter((e) => e.kind === 'send' && e.chatId === cy.chatId).at(-1)!;
    if (menu.kind !== 'send') throw new Error('menu expected');
    // backgrounds only: no options
    expect(menu.msg.buttons!.flat().some((b) => /x2|保留抠像|先预览/.test(b.text))).toBe(false);
    const pick = menu.msg.buttons!.flat().find((b) => parseCallback(b.data)?.scope === 'menu' && (parseCallback(b.data) as { action: { kind: string } }).action.kind === 'bg' && !b.text.startsWith('✅'))!;
    await press(pick.data, 'cy');
    await press(buttonData(ui.messages.get(menu.id)!.buttons, /开始/), 'cy');
    const second = (await stack.service.queues.enhance.getJobs(['waiting', 'prioritized'])).find((j) => j.data.requester.userId === 'cy' && j.id !== job.id)!;
    expect(second.data.options).toEqual({ ...job.data.options, keepCutout: true });
    expect(second.data.background).not.toBe(job.data.background);
    expect(second.data.input.bytes).toBe(job.data.input.bytes);
    expect(second.data.requester.messageId).toBe(menu.id);
  });
});
