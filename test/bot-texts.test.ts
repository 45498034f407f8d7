/**
 * The bots' texts are platform-neutral (src/bots/rich.ts); Telegram renders them as HTML, Discord as
 * markdown, each escaping what its markup needs.
 */
import { describe, expect, it } from 'vitest';
import { toMarkdown } from '../src/bots/discord/markup.js';
import { bold, code, italic, lines, link, plainText, rich, url } from '../src/bots/rich.js';
import { toHtml } from '../src/bots/telegram/markup.js';
import { botTexts } from '../src/bots/texts.js';

describe('rich texts', () => {
  const sample = lines(rich('🎬 ', bold('a <b> & *c*_d.mp4'), ' → ', italic('x|y')), rich(code('a`b<c'), ' ', link('here', 'https://h.example/?a=1&b="2"')), url('https://h.example/f_1.mp4?x=1&y=2'));

  it('Telegram: HTML with <, >, & (and quotes) escaped in text, code and links', () => {
    expect(toHtml(sample)).toBe(
      '🎬 <b>a &lt;b&gt; &amp; *c*_d.mp4</b> → <i>x|y</i>\n<code>a`b&lt;c</code> <a href="https://h.example/?a=1&amp;b=&quot;2&quot;">here</a>\nhttps://h.example/f_1.mp4?x=1&amp;y=2',
    );
    expect(toHtml('1 < 2 & 3 > 2')).toBe('1 &lt; 2 &amp; 3 &gt; 2');
  });

  it('Discord: markdown with *, _, ~, `, | and > escaped in text, URLs left clickable', () => {
    expect(toMarkdown(sample)).toBe('🎬 **a \\<b\\> & \\*c\\*\\_d.mp4** → *x\\|y*\n`` a`b<c `` [here](https://h.example/?a=1&b="2")\nhttps://h.example/f_1.mp4?x=1&y=2');
    expect(toMarkdown('~~no~~ >quote')).toBe('\\~\\~no\\~\\~ \\>quote');
  });

  it('plain text is what a reader sees', () => {
    expect(plainText(sample)).toBe('🎬 a <b> & *c*_d.mp4 → x|y\na`b<c here\nhttps://h.example/f_1.mp4?x=1&y=2');
  });
});

describe('bot texts in both locales', () => {
  const en = botTexts('en');
  const zh = botTexts('zh');

  it('keep the wording, with user names bold and escaped per platform', () => {
    expect(toHtml(en.bgAdded('rock&roll'))).toBe('✅ Background <b>rock&amp;roll</b> added.');
    expect(toMarkdown(en.bgAdded('my_bg'))).toBe('✅ Background **my\\_bg** added.');
    expect(toHtml(zh.bgRemoved('<海>'))).toBe('已删除背景 <b>&lt;海&gt;</b>。');
    expect(toMarkdown(zh.bgRemoved('*海*'))).toBe('已删除背景 **\\*海\\***。');
  });

  it('menus and status lines', () => {
    const menu = { name: 'dance.mp4', durationS: 12.34, width: 1080, height: 1920, background: 'beach', upscaleOnly: false };
    expect(toHtml(en.menu(menu))).toBe('🎬 <b>dance.mp4</b> · 1080×1920 · 12.3 s\nBackground: <b>beach</b>\nPick a background and options, then press Start.');
    expect(toMarkdown(zh.menu({ ...menu, background: null }))).toBe('🎬 **dance.mp4** · 1080×1920 · 12.3 秒\n背景：**—**\n选择背景和选项，然后点“开始”。');
    const head = en.statusHead({ name: 'a&b.mp4', background: 'x<y' });
    expect(toHtml(en.status(null, head))).toBe('🎬 <b>a&amp;b.mp4</b> → x&lt;y\n⏳ queued');
    expect(toMarkdown(zh.status({ stage: 'queued', position: 2, percent: 0, fps: 0, etaS: null } as never, zh.statusHead({ name: 'v.mp4', background: '海边' })))).toBe(
      '🎬 **v.mp4** → 海边\n⏳ 排队中（第 2 位）',
    );
  });

  it('links are written out, escaped for Telegram and clickable on Discord', () => {
    const p = { sizeMb: 80, limitMb: 50, link: 'http://localhost:8080/f/a_b.mp4?e=1&s=2', hours: 24 };
    expect(toHtml(en.tooBigToUpload(p))).toMatch(/Download it \(the link works for 24 h\):\nhttp:\/\/localhost:8080\/f\/a_b\.mp4\?e=1&amp;s=2$/);
    expect(toMarkdown(zh.tooBigToUpload(p))).toMatch(/下载链接（24 小时内有效）：\nhttp:\/\/localhost:8080\/f\/a_b\.mp4\?e=1&s=2$/);
    expect(toHtml(en.failed('bad <file> & more'))).toBe('❌ bad &lt;file&gt; &amp; more');
  });
});
