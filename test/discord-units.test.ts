/** The Discord bot's pure parts: payload reading, markdown, components, the stats embed, commands. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { autocompleteChoices, BOT_PERMISSIONS, commandDefinitions, inviteUrl } from '../src/bots/discord/commands.js';
import type { Attachment as DjsAttachment } from 'discord.js';
import {
  attachmentOf,
  checkAttachment,
  discordLocale,
  MB,
  scaleChoice,
  uploadLimitOf,
  videoAttachmentOf,
  type Attachment,
} from '../src/bots/discord/parse.js';
import { selectId, statsEmbed, toComponents } from '../src/bots/discord/message-shapes.js';
import { escapeMarkdown, toMarkdown } from '../src/bots/discord/markup.js';
import { fileAttachment, upload } from '../src/bots/discord/attachments.js';
import { bold, code, italic, link, rich, url } from '../src/bots/rich.js';
import { initialMenuState, menuKeyboard, encodeCallback } from '../src/bots/menu.js';
import { sampleResult as result } from './helpers/fixtures.js';

const att = (p: Partial<Attachment>): Attachment => ({ id: '1', filename: 'a.mp4', size: 1000, url: 'https://cdn.example/a.mp4', ...p }) as Attachment;

describe('discord parse', () => {
  it('maps Discord locales: both Chinese locales to zh, everything else to en', () => {
    expect(discordLocale('zh-CN')).toBe('zh');
    expect(discordLocale('zh-TW')).toBe('zh');
    expect(discordLocale('en-US')).toBe('en');
    expect(discordLocale('fr')).toBe('en');
    expect(discordLocale(undefined)).toBe('en');
  });

  it('refuses clear non-videos and oversized attachments before downloading; leaves the rest to ffprobe', () => {
    expect(checkAttachment(att({ content_type: 'video/mp4' }), 10 * MB)).toEqual({ ok: true });
    expect(checkAttachment(att({ content_type: 'image/gif' }), 10 * MB)).toEqual({ ok: true });
    expect(checkAttachment(att({ content_type: undefined, filename: 'x.bin' }), 10 * MB)).toEqual({ ok: true });
    expect(checkAttachment(att({ content_type: 'application/octet-stream' }), 10 * MB)).toEqual({ ok: true });
    expect(checkAttachment(att({ content_type: 'image/png' }), 10 * MB)).toEqual({ ok: false, reason: 'not-video' });
    expect(checkAttachment(att({ content_type: 'text/plain; charset=utf-8' }), 10 * MB)).toEqual({ ok: false, reason: 'not-video' });
    expect(checkAttachment(att({ content_type: 'audio/mpeg' }), 10 * MB)).toEqual({ ok: false, reason: 'not-video' });
    expect(checkAttachment(att({ content_type: 'video/mp4', size: 11 * MB }), 10 * MB)).toEqual({ ok: false, reason: 'too-big', sizeMb: 11 });
  });

  it('finds the video of a message for the message command', () => {
    expect(videoAttachmentOf([att({ id: 'p', content_type: 'image/png' }), att({ id: 'v', content_type: 'video/webm' })])?.id).toBe('v');
    expect(videoAttachmentOf([att({ content_type: 'image/png' })])).toBeUndefined();
    expect(videoAttachmentOf([])).toBeUndefined();
  });

  it('reads an attachment from discord.js and from a raw API message alike; the upload limit of the place, capped', () => {
    const raw = { id: '70', filename: 'd.mp4', size: 5, url: 'https://cdn.example/d.mp4', proxy_url: 'https://p', content_type: 'video/mp4' };
    expect(attachmentOf(raw)).toEqual({ id: '70', filename: 'd.mp4', size: 5, url: 'https://cdn.example/d.mp4', content_type: 'video/mp4' });
    const djs = { id: '71', name: 'e.webm', size: 6, url: 'https://cdn.example/e.webm', contentType: 'video/webm' } as unknown as DjsAttachment;
    expect(attachmentOf(djs)).toEqual({ id: '71', filename: 'e.webm', size: 6, url: 'https://cdn.example/e.webm', content_type: 'video/webm' });
    expect(scaleChoice('x4')).toEqual({ scale: 4 });
    expect(scaleChoice('none')).toEqual({ noUpscale: true });
    expect(scaleChoice(null)).toEqual({});
    expect(uploadLimitOf(10 * MB, 100 * MB)).toBe(10 * MB);
    expect(uploadLimitOf(500 * MB, 25 * MB)).toBe(25 * MB);
    expect(uploadLimitOf(undefined, 100 * MB)).toBe(10 * MB);
  });
});

describe('discord render', () => {
  it('renders bot texts as markdown, escaping what users wrote but not URLs', () => {
    expect(toMarkdown(rich('🎬 ', bold('my *best* & _dance_.mp4'), ' → rock&roll <live>'))).toBe('🎬 **my \\*best\\* & \\_dance\\_.mp4** → rock&roll \\<live\\>');
    expect(toMarkdown(rich('Download:\n', url('https://h.example/files/a_b.mp4?exp=1&sig=x_y')))).toBe('Download:\nhttps://h.example/files/a_b.mp4?exp=1&sig=x_y');
    expect(toMarkdown([link('here', 'https://x.example/?a=1&b=2')])).toBe('[here](https://x.example/?a=1&b=2)');
    expect(toMarkdown(rich(italic('i'), ' ', code('c')))).toBe('*i* `c`');
    expect(escapeMarkdown('# title\n- item ~x~ |y| `z`')).toBe('\\# title\n\\- item \\~x\\~ \\|y\\| \\`z\\`');
  });

  it('builds uploads from AttachmentBuilder: files[n] and the attachments that name them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-att-'));
    const file = path.join(dir, 'out.mp4');
    writeFileSync(file, 'video bytes');
    try {
      const up = await upload(fileAttachment(file, 'my dance.mp4'));
      expect(up.files).toHaveLength(1);
      expect(up.files[0].name).toBe('my dance.mp4');
      expect(Buffer.from(up.files[0].data as Buffer).toString()).toBe('video bytes');
      expect(up.attachments).toEqual([{ id: 0, filename: 'my dance.mp4' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes one string select of a menu page and buttons of the rest, within Discord limits', () => {
    const names = Array.from({ length: 30 }, (_, i) => ({ name: `bg${i}`, label: `Background ${i}` }));
    const state = { ...initialMenuState(3, 25), keepCutout: true };
    const rows = toComponents(menuKeyboard('s1', state, names, 'en', 25), { placeholder: 'Pick a background' });
    expect(rows.length).toBeLessThanOrEqual(5);
    const select = rows[0].components[0];
    expect(select).toMatchObject({ type: 3, custom_id: selectId('s1'), min_values: 1, max_values: 1 });
    if (select.type !== 3) throw new Error('no select');
    expect(select.options).toHaveLength(25);
    expect(select.options.filter((o) => o.default)).toEqual([{ label: 'Background 3', value: encodeCallback({ scope: 'menu', session: 's1', action: { kind: 'bg', index: 3 } }), default: true }]);
    const buttons = rows.slice(1).flatMap((r) => r.components);
    for (const r of rows.slice(1)) expect(r.components.length).toBeLessThanOrEqual(5);
    expect(buttons.map((b) => ('label' in b ? b.label : ''))).toEqual(['‹', '1/2', '›', '✓ x2', 'x4', 'upscale only', '✓ keep cut-out', 'transparent cut-out', '✓ real footage', 'anime', '✓ faster', 'fine hair', '📐 as filmed', '▶️ Start', 'preview 5 s first', '✖️ Cancel']);
    expect(buttons.find((b) => 'label' in b && b.label === '1/2')).toMatchObject({ disabled: true });
    for (const b of buttons) if ('custom_id' in b) expect(b.custom_id!.length).toBeLessThanOrEqual(100);
    const link = toComponents([], { placeholder: '', link: { text: 'Download original quality', url: 'https://h.example/f' } });
    expect(link).toEqual([{ type: 1, components: [{ type: 2, style: 5, label: 'Download original quality', url: 'https://h.example/f' }] }]);
  });

  it('lays out the timing as an embed: stages with seconds and fps, total, realtime factor, device', () => {
    const e = statsEmbed({ name: 'clip.mp4', background: 'sunset', result, locale: 'en' });
    expect(e.title).toMatch(/clip\.mp4 → /);
    expect(e.fields.slice(0, 4).map((f) => `${f.name}: ${f.value}`)).toEqual([
      'decode: 0.20 s · 40.8 fps',
      'upscale *: 0.15 s · 54.1 fps',
      'matte: 0.65 s · 12.3 fps',
      'compose: 0.11 s · 70.2 fps',
    ]);
    expect(e.fields[4]).toMatchObject({ name: 'total', value: '1.87 s · 0.93x realtime' });
    expect(e.fields[5].value).toMatch(/onnxruntime cpu/);
    expect(e.fields[5].value).not.toContain('.onnx');
    expect(e.footer?.text).toMatch(/no GPU/);
    expect(statsEmbed({ name: 'c', background: 'sunset', result, locale: 'zh' }).fields[4].name).toBe('总计');
  });
});

describe('discord commands', () => {
  it('defines valid commands: names, description lengths, options, localisations', () => {
    // The JSON as sent: read loosely, as the server does.
    type Opt = { name: string; type: number; description: string; required?: boolean; description_localizations?: Record<string, string> };
    const defs = commandDefinitions() as Array<{ name: string; type?: number; description?: string; options?: Opt[]; default_member_permissions?: string | null }>;
    expect(defs.map((d) => d.name)).toEqual(['enhance', 'Enhance video', 'bg', 'queue', 'stats']);
    expect(defs[1].type).toBe(3); // the message command
    for (const d of defs) {
      if (d.type === 1) {
        expect(d.name).toMatch(/^[-_\p{L}\p{N}]{1,32}$/u);
        expect(d.description!.length).toBeGreaterThan(0);
        expect(d.description!.length).toBeLessThanOrEqual(100);
      } else expect(d.description ?? '').toBe('');
      for (const o of d.options ?? []) {
        expect(o.name).toMatch(/^[-_a-z0-9]{1,32}$/);
        expect(o.description.length).toBeLessThanOrEqual(100);
        for (const v of Object.values(o.description_localizations ?? {})) expect(v.length).toBeLessThanOrEqual(100);
      }
    }
    const enhance = defs[0];
    expect(enhance.options?.map((o) => [o.name, o.type, Boolean(o.required)])).toEqual([
      ['video', 11, true],
      ['background', 3, false],
      ['scale', 3, false],
      ['keep_cutout', 5, false],
      ['model', 3, false],
      ['matting', 3, false],
    ]);
    const bg = defs.find((d) => d.name === 'bg')!;
    expect(bg.options?.map((o) => o.name)).toEqual(['add', 'remove', 'list', 'generate']);
    expect(defs.find((d) => d.name === 'bg')?.default_member_permissions).toBe('32');
    expect(inviteUrl('123')).toBe(`https://discord.com/oauth2/authorize?client_id=123&scope=bot+applications.commands&permissions=${BOT_PERMISSIONS}`);
    expect(BOT_PERMISSIONS).toBe(2147601408n);
  });

  it('autocompletes background names, prefix matches first, at most 25', () => {
    const names = ['green', 'neon', 'night', 'studio', 'sunset', 'white'];
    expect(autocompleteChoices(names, 'n', (n) => n).map((c) => c.value)).toEqual(['neon', 'night', 'green', 'sunset']);
    expect(autocompleteChoices(names, '', (n) => n)).toHaveLength(6);
    expect(autocompleteChoices(names, 'SU', (n) => (n === 'sunset' ? '日落' : n))).toEqual([
      { name: '日落 (sunset)', value: 'sunset' },
    ]);
    expect(autocompleteChoices(Array.from({ length: 40 }, (_, i) => `b${i}`), 'b', (n) => n)).toHaveLength(25);
  });
});
