import { describe, expect, it } from 'vitest';
import {
  applyMenuAction,
  CALLBACK_DATA_MAX_BYTES,
  encodeCallback,
  initialMenuState,
  menuJobOptions,
  menuKeyboard,
  menuReady,
  parseCallback,
  type Callback,
  type MenuBackground,
} from '../src/bots/menu.js';
import { statsCaption as statsRich, statusLine, visibleLength, CAPTION_MAX } from '../src/bots/texts.js';
import { escapeHtml, toHtml } from '../src/bots/telegram/markup.js';

const statsCaption = (p: Parameters<typeof statsRich>[0]) => toHtml(statsRich(p));
import type { Context } from 'grammy';
import { findMedia, isAdminStatus, overDownloadLimit } from '../src/bots/telegram/parse.js';
import { updateOrderKey } from '../src/bots/telegram/bot.js';
import { outputName, validBackgroundName } from '../src/bots/flow.js';
import { sampleResult as result } from './helpers/fixtures.js';

const bgs = (n: number, name = (i: number) => `bg${i}`): MenuBackground[] => Array.from({ length: n }, (_, i) => ({ name: name(i), label: name(i) }));

describe('callback data', () => {
  it('round-trips every action and stays within 64 bytes', () => {
    const all: Callback[] = [
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'bg', index: 9999 } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'page', page: 12 } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'scale', scale: 4 } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'upscaleOnly' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'keepCutout' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'model', model: 'general' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'model', model: 'anime' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'mattingModel', mattingModel: 'mobilenetv3' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'mattingModel', mattingModel: 'resnet50' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'start' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'close' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'noop' } },
      { scope: 'job', jobId: '3f2a9c1b04de', action: { kind: 'cancelJob' } },
      { scope: 'job', jobId: '3f2a9c1b04de', action: { kind: 'again' } },
      { scope: 'job', jobId: '3f2a9c1b04de', action: { kind: 'renderAll' } },
      ...(['source', '9:16', '1:1', '16:9'] as const).map((aspect): Callback => ({ scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'aspect', aspect } })),
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'preview' } },
      { scope: 'menu', session: 'a1b2c3d4e5', action: { kind: 'exportAlpha' } },
    ];
    for (const cb of all) {
      const data = encodeCallback(cb);
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(CALLBACK_DATA_MAX_BYTES);
      expect(parseCallback(data)).toEqual(cb);
    }
  });

  it('refuses ids that could break the format or the limit, and forged data', () => {
    expect(() => encodeCallback({ scope: 'menu', session: 'x'.repeat(41), action: { kind: 'start' } })).toThrow();
    expect(() => encodeCallback({ scope: 'menu', session: 'a:b', action: { kind: 'start' } })).toThrow();
    for (const bad of ['', 'm:abc', 'm:abc:zz', 'm:abc:s3', 'j:abc:x1', 'q:abc:go', `m:${'a'.repeat(70)}:go`, 'm:abc:go\n']) expect(parseCallback(bad)).toBeNull();
  });

  it('every button of a large menu with long non-ASCII names fits', () => {
    const list = bgs(40, (i) => `舞台背景-${'长'.repeat(30)}-${i}`);
    const rows = menuKeyboard('a1b2c3d4e5', initialMenuState(0, 6), list, 'zh', 6);
    for (const b of rows.flat()) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);
  });
});

describe('menu', () => {
  it('pages the backgrounds, marks the picked one and the options', () => {
    const list = bgs(14);
    let state = initialMenuState(7, 6);
    expect(state.page).toBe(1);
    let rows = menuKeyboard('s1', state, list, 'en', 6);
    const texts = rows.flat().map((b) => b.text);
    expect(texts).toContain('✅ bg7');
    expect(texts).not.toContain('bg0');
    expect(texts).toContain('2/3');
    expect(texts).toContain('✅ x2');
    expect(rows.at(-1)!.map((b) => b.text)).toEqual(['▶️ Start', 'preview 5 s first', '✖️ Cancel']);

    state = applyMenuAction(state, { kind: 'page', page: 99 }, list.length, 6);
    expect(state.page).toBe(2);
    rows = menuKeyboard('s1', state, list, 'en', 6);
    expect(rows.flat().map((b) => b.text)).toContain('bg13');
    // "‹" on the first page goes round to the last
    const back = rows.flat().find((b) => b.text === '‹')!;
    expect(parseCallback(back.data)).toMatchObject({ action: { kind: 'page', page: 1 } });

    state = applyMenuAction(state, { kind: 'scale', scale: 4 }, list.length, 6);
    state = applyMenuAction(state, { kind: 'keepCutout' }, list.length, 6);
    expect(state).toMatchObject({ scale: 4, keepCutout: true });
    expect(applyMenuAction(state, { kind: 'bg', index: 14 }, list.length, 6)).toBe(state);
    expect(applyMenuAction(state, { kind: 'bg', index: 13 }, list.length, 6).background).toBe(13);
  });

  it('upscaler model and matting network: config\'s marked until pressed, then the pressed one; no matting choice for upscale only', () => {
    const defaults = { model: 'anime', mattingModel: 'resnet50' } as const;
    let state = initialMenuState(0, 6);
    expect(state).toMatchObject({ model: null, mattingModel: null });
    const optionRow = (st: typeof state, locale: 'en' | 'zh' = 'en') => menuKeyboard('s1', st, bgs(3), locale, 6, true, defaults).at(-2)!.map((b) => b.text).filter((t) => !t.startsWith('📐'));
    expect(optionRow(state)).toEqual(['real footage', '✅ anime', 'faster', '✅ fine hair']);
    expect(optionRow(state, 'zh')).toEqual(['实拍', '✅ 动漫', '更快', '✅ 发丝精细']);
    const press = (text: string) => parseCallback(menuKeyboard('s1', state, bgs(3), 'en', 6, true, defaults).flat().find((b) => b.text.replace('✅ ', '') === text)!.data)!;
    const general = press('real footage');
    const faster = press('faster');
    if (general.scope !== 'menu' || faster.scope !== 'menu') throw new Error('menu buttons expected');
    state = applyMenuAction(applyMenuAction(state, general.action, 3, 6), faster.action, 3, 6);
    expect(state).toMatchObject({ model: 'general', mattingModel: 'mobilenetv3' });
    expect(optionRow(state)).toEqual(['✅ real footage', 'anime', '✅ faster', 'fine hair']);
    expect(optionRow({ ...state, upscaleOnly: true })).toEqual(['✅ real footage', 'anime']);
    // "Another background" has no options at all.
    expect(menuKeyboard('s1', state, bgs(3), 'en', 6, false, defaults).flat().some((b) => /real footage|faster/.test(b.text))).toBe(false);
  });

  it("issue 17's entries: the shape steps source → 9:16 → 1:1 → 16:9, preview first and transparent cut-out toggle, and the job gets exactly what was pressed", () => {
    let state = initialMenuState(0, 6);
    const keyboard = (st: typeof state) => menuKeyboard('s1', st, bgs(3), 'en', 6);
    const pressText = (re: RegExp) => {
      const cb = parseCallback(keyboard(state).flat().find((b) => re.test(b.text))!.data)!;
      if (cb.scope !== 'menu') throw new Error('menu button expected');
      state = applyMenuAction(state, cb.action, 3, 6);
    };
    // Nothing pressed: the worker's config decides (no aspect, no preview, no alpha in the job).
    expect(menuJobOptions(state)).toEqual({ scale: 2, keepCutout: false });
    const shapes: string[] = [];
    for (let i = 0; i < 4; i++) {
      shapes.push(keyboard(state).flat().find((b) => b.text.startsWith('📐'))!.text);
      pressText(/^📐/);
    }
    expect(shapes).toEqual(['📐 as filmed', '📐 9:16', '📐 1:1', '📐 16:9']);
    expect(state.aspect).toBe('source');
    pressText(/^📐/);
    pressText(/preview 5 s first/);
    pressText(/transparent cut-out/);
    expect(keyboard(state).flat().map((b) => b.text)).toEqual(expect.arrayContaining(['✅ preview 5 s first', '✅ transparent cut-out', '📐 9:16']));
    expect(menuJobOptions(state)).toEqual({ scale: 2, keepCutout: false, aspect: '9:16', preview: 5, exportAlpha: true });
    // Upscale only: no matting, so neither a shape nor a cut-out to export; a preview still can be.
    const upscale = { ...state, upscaleOnly: true };
    expect(keyboard(upscale).flat().some((b) => /📐|transparent/.test(b.text))).toBe(false);
    expect(menuJobOptions(upscale)).toEqual({ scale: 2, keepCutout: false, matting: 'none', preview: 5 });
    // A shape the menu does not offer (config 4:5) is shown as it is and steps on to the first offered one.
    const odd = menuKeyboard('s1', initialMenuState(0, 6), bgs(3), 'en', 6, true, { model: 'general', mattingModel: 'mobilenetv3', aspect: '4:5' });
    expect(odd.flat().find((b) => b.text.startsWith('📐'))!.text).toBe('📐 4:5');
  });

  it('one page: no navigation row; start needs a background or upscale-only', () => {
    const rows = menuKeyboard('s1', initialMenuState(null, 6), bgs(3), 'en', 6);
    expect(rows.flat().some((b) => b.text === '‹')).toBe(false);
    expect(menuReady(initialMenuState(null, 6), 3)).toBe(false);
    expect(menuReady({ ...initialMenuState(null, 6), upscaleOnly: true }, 3)).toBe(true);
    expect(menuReady(initialMenuState(2, 6), 3)).toBe(true);
  });
});

describe('texts', () => {
  it('escapes what Telegram HTML needs', () => {
    expect(escapeHtml('a<b>&"c"')).toBe('a&lt;b&gt;&amp;&quot;c&quot;');
  });

  it('statuses read as the issue shows them', () => {
    expect(statusLine({ stage: 'queued', percent: 0, fps: 0, etaS: null, position: 3 }, 'en')).toBe('⏳ queued (position 3)');
    expect(statusLine({ stage: 'upscale', percent: 41.3, fps: 18.2, etaS: null }, 'en')).toBe('🔍 upscaling 41 % · 18 fps');
    expect(statusLine({ stage: 'matte', percent: 0, fps: 0, etaS: null }, 'en')).toBe('✂️ matting');
    expect(statusLine({ stage: 'compose', percent: 0, fps: 0, etaS: null }, 'en')).toBe('🎞 encoding');
    expect(statusLine({ stage: 'queued', percent: 0, fps: 0, etaS: null, position: 2 }, 'zh')).toBe('⏳ 排队中（第 2 位）');
  });

  it('the stats caption has each stage, the total, the realtime factor and the device, escaped', () => {
    const caption = statsCaption({ name: 'a <b> & c.mp4', background: 'rock&roll <live>', result, locale: 'en' });
    expect(caption).toContain('<b>a &lt;b&gt; &amp; c.mp4</b>');
    expect(caption).toContain('rock&amp;roll &lt;live&gt;');
    expect(caption).toMatch(/upscale: 0\.15 s · 54\.1 fps \*/);
    expect(caption).toMatch(/matte: 0\.65 s · 12\.3 fps/);
    expect(caption).toContain('total 1.87 s · 0.93x realtime');
    expect(caption).toMatch(/device: .*rvm \/ onnxruntime cpu/);
    expect(caption).not.toContain('.onnx');
    // no tag but the ones we wrote
    expect(caption.replace(/<\/?b>/g, '')).not.toMatch(/[<>]/);
    const long = statsRich({ name: 'x'.repeat(5000), background: 'y'.repeat(5000), result, locale: 'zh' });
    expect(visibleLength(long)).toBeLessThanOrEqual(CAPTION_MAX);
  });

  it('background names from chat are never paths', () => {
    for (const ok of ['beach', 'Beach 2', '舞台', 'a_b-c']) expect(validBackgroundName(ok)).toBe(true);
    for (const bad of ['', '../x', 'a/b', '.hidden', ' lead', 'x'.repeat(41), 'a\nb', 'c:d']) expect(validBackgroundName(bad)).toBe(false);
  });

  it('output names never carry a path', () => {
    expect(outputName('../../etc/passwd')).toBe('.._.._etc_passwd.enhanced.mp4');
    expect(outputName('dance.mov')).toBe('dance.enhanced.mp4');
  });
});

describe('telegram parsing', () => {
  it("updates keep their order per chat; a chat's button presses apart from its messages", () => {
    const msg = { chat: { id: 7 }, callbackQuery: undefined } as unknown as Context;
    const press = { chat: { id: 7 }, callbackQuery: { data: 'x' } } as unknown as Context;
    const other = { chat: { id: 8 }, callbackQuery: undefined } as unknown as Context;
    expect(updateOrderKey(msg)).toBe('7');
    expect(updateOrderKey(press)).toBe('7:buttons');
    expect(updateOrderKey(other)).not.toBe(updateOrderKey(msg));
    expect(updateOrderKey({ chat: undefined } as unknown as Context)).toBeUndefined();
  });

  it('finds the file of a video, an animation or a document', () => {
    expect(findMedia({ message_id: 1, video: { file_id: 'v', file_size: 10 } })).toMatchObject({ kind: 'video', name: 'video.mp4' });
    expect(findMedia({ message_id: 1, animation: { file_id: 'a' } })).toMatchObject({ kind: 'animation' });
    expect(findMedia({ message_id: 1, document: { file_id: 'd', file_name: 'x.mov', mime_type: 'video/quicktime' } })).toMatchObject({ kind: 'document', name: 'x.mov' });
    expect(findMedia({ message_id: 1, text: 'hi' })).toBeNull();
    expect(findMedia({ message_id: 1, video: { file_size: 3 } })).toBeNull();
  });

  it('the 20 MB download limit applies to the cloud API only', () => {
    expect(overDownloadLimit(21 * 1024 * 1024, 20, false)).toBe(true);
    expect(overDownloadLimit(20 * 1024 * 1024, 20, false)).toBe(false);
    expect(overDownloadLimit(60 * 1024 * 1024, 20, true)).toBe(false);
    expect(overDownloadLimit(undefined, 20, false)).toBe(false);
    expect(isAdminStatus('creator') && isAdminStatus('administrator') && !isAdminStatus('member')).toBe(true);
  });
});
