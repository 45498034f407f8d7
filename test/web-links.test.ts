import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { makeLink, publicBaseUrl, publicUrlWarning, relativeFromPage, signPath, verifyLink } from '../src/web/links.js';
import { linkSecret, SECRET_FILE } from '../src/web/secret.js';
import { contentDisposition, contentTypeFor, isSafeRelPath } from '../src/web/server.js';
import { pickLocale, renderProblemPage, escapeHtml } from '../src/web/watch-page.js';

const SECRET = 'test-secret-0123456789abcdef0123456789';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

function query(link: string): { path: string; exp: string | undefined; sig: string | undefined } {
  const u = new URL(link);
  return { path: u.pathname, exp: u.searchParams.get('exp') ?? undefined, sig: u.searchParams.get('sig') ?? undefined };
}

describe('signPath', () => {
  it('is a deterministic base64url HMAC of path and expiry', () => {
    const a = signPath('job1/out.mp4', 1_900_000_000, SECRET);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signPath('job1/out.mp4', 1_900_000_000, SECRET)).toBe(a);
    expect(signPath('job1/out.mp4', 1_900_000_001, SECRET)).not.toBe(a);
    expect(signPath('job1/out.mp5', 1_900_000_000, SECRET)).not.toBe(a);
    expect(signPath('job1/out.mp4', 1_900_000_000, SECRET + 'x')).not.toBe(a);
  });

  it('refuses an empty secret or a bad expiry', () => {
    expect(() => signPath('a', 1, '')).toThrow(/secret/);
    expect(() => signPath('a', 1.5, SECRET)).toThrow(/expiry/);
    expect(() => signPath('a', -1, SECRET)).toThrow(/expiry/);
  });
});

describe('makeLink', () => {
  it('builds <base>/files/<encoded path>?exp&sig, with or without a trailing slash', () => {
    const link = makeLink('https://dl.example.com/', 'job 1/out.mp4', 3600, SECRET, NOW);
    const exp = NOW / 1000 + 3600;
    expect(link).toBe(`https://dl.example.com/files/job%201/out.mp4?exp=${exp}&sig=${signPath('job 1/out.mp4', exp, SECRET)}`);
    expect(makeLink('https://dl.example.com', 'job 1/out.mp4', 3600, SECRET, NOW)).toBe(link);
    expect(makeLink('https://dl.example.com//', 'job 1/out.mp4', 3600, SECRET, NOW)).toBe(link);
  });

  it('encodes every segment, keeping the separators', () => {
    const link = makeLink('http://h:1/base', 'a?b/#c/ダンス "x".mp4', 60, SECRET, NOW);
    const { path: p } = query(link);
    expect(p).toBe('/base/files/a%3Fb/%23c/%E3%83%80%E3%83%B3%E3%82%B9%20%22x%22.mp4');
  });

  it('round-trips through verifyLink on the decoded path', () => {
    const rel = 'j/ダンス (1).mp4';
    const { path: p, exp, sig } = query(makeLink('http://h', rel, 60, SECRET, NOW));
    const decoded = decodeURIComponent(p.slice('/files/'.length));
    expect(decoded).toBe(rel);
    expect(verifyLink(decoded, exp, sig, SECRET, NOW)).toBe('ok');
    expect(verifyLink(decoded, exp, sig, SECRET, NOW + 59_000)).toBe('ok');
  });
});

describe('verifyLink', () => {
  const rel = 'job1/out.mp4';
  const { exp, sig } = query(makeLink('http://h', rel, 60, SECRET, NOW));

  it('expires at exp', () => {
    expect(verifyLink(rel, exp, sig, SECRET, NOW + 60_000)).toBe('expired');
    expect(verifyLink(rel, exp, sig, SECRET, NOW + 3600_000)).toBe('expired');
  });

  it('rejects tampering and malformed input as bad', () => {
    expect(verifyLink('job1/out2.mp4', exp, sig, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, String(Number(exp) + 1), sig, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, exp, sig, SECRET + 'x', NOW)).toBe('bad');
    const flipped = sig!.slice(0, 10) + (sig![10] === 'A' ? 'B' : 'A') + sig!.slice(11);
    expect(verifyLink(rel, exp, flipped, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, undefined, sig, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, exp, undefined, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, exp, '', SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, exp, sig + '=', SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, exp, sig!.slice(1), SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, `${exp}.0`, sig, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, `-${exp}`, sig, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, ` ${exp}`, sig, SECRET, NOW)).toBe('bad');
    expect(verifyLink(rel, exp, sig, '', NOW)).toBe('bad');
  });

  it('accepts only the canonical spelling of the signature', () => {
    // The last base64url character of a 32-byte value carries 2 unused bits.
    const last = sig!.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const i = alphabet.indexOf(last);
    const twin = sig!.slice(0, -1) + alphabet[i ^ 1];
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(sig!, 'base64url'))).toBe(true);
    expect(verifyLink(rel, exp, twin, SECRET, NOW)).toBe('bad');
  });

  it('reports a forged signature as bad even when the expiry is past', () => {
    expect(verifyLink(rel, '1', sig, SECRET, NOW)).toBe('bad');
  });
});

describe('server helpers', () => {
  it('knows video content types', () => {
    expect(contentTypeFor('x/a.mp4')).toBe('video/mp4');
    expect(contentTypeFor('A.MKV')).toBe('video/x-matroska');
    expect(contentTypeFor('a.bin')).toBe('application/octet-stream');
    expect(contentTypeFor('noext')).toBe('application/octet-stream');
  });

  it('makes a safe Content-Disposition', () => {
    expect(contentDisposition('out.mp4')).toBe(`attachment; filename="out.mp4"; filename*=UTF-8''out.mp4`);
    expect(contentDisposition('He said "hi"\r\n.mp4')).toBe(`attachment; filename="He said hi.mp4"; filename*=UTF-8''He%20said%20hi.mp4`);
    expect(contentDisposition('ダンス.mp4')).toBe(`attachment; filename="___.mp4"; filename*=UTF-8''%E3%83%80%E3%83%B3%E3%82%B9.mp4`);
    expect(contentDisposition("it's (1)*.mp4")).toBe(`attachment; filename="it's (1)*.mp4"; filename*=UTF-8''it%27s%20%281%29%2A.mp4`);
    expect(contentDisposition('a\\b%41.mp4')).toBe(`attachment; filename="ab_41.mp4"; filename*=UTF-8''ab%2541.mp4`);
    expect(contentDisposition('evil\u202egnp.mp4')).not.toMatch(/\u202e/);
    expect(contentDisposition('out.mp4', 'inline')).toBe(`inline; filename="out.mp4"; filename*=UTF-8''out.mp4`);
  });

  it('accepts only plain relative paths', () => {
    for (const ok of ['a.mp4', 'job1/out.mp4', 'a b/c..d/.hidden', 'x/%2e%2e/y']) expect(isSafeRelPath(ok), ok).toBe(true);
    for (const bad of ['', '../a', 'a/../b', 'a/..', './a', 'a/./b', '/etc/passwd', 'a//b', 'a/', 'a\\..\\b', 'a\0b', 'C:\\x', '\\\\host\\share'])
      expect(isSafeRelPath(bad), JSON.stringify(bad)).toBe(false);
  });
});

describe('relativeFromPage', () => {
  it('climbs one level per path segment, so the URL resolves to the route beside the page', () => {
    const page = makeLink('https://h.example/base', 'a b/ダンス.mp4', 60, SECRET, NOW);
    const q = new URL(page).search.slice(1);
    const rel = relativeFromPage('a b/ダンス.mp4', 'raw', q);
    expect(rel).toBe(`../../raw/a%20b/%E3%83%80%E3%83%B3%E3%82%B9.mp4?${q}`);
    expect(new URL(rel, page).href).toBe(page.replace('/base/files/', '/base/raw/'));
    expect(new URL(relativeFromPage('x.mp4', 'poster', q), 'http://lan:8080/files/x.mp4?' + q).href).toBe(`http://lan:8080/poster/x.mp4?${q}`);
  });
});

describe('watch page helpers', () => {
  it('picks zh or en from Accept-Language by preference', () => {
    expect(pickLocale(undefined)).toBe('en');
    expect(pickLocale('')).toBe('en');
    expect(pickLocale('zh-CN,zh;q=0.9,en;q=0.8')).toBe('zh');
    expect(pickLocale('en-US,en;q=0.9,zh-CN;q=0.8')).toBe('en');
    expect(pickLocale('fr-FR,fr;q=0.9,zh-TW;q=0.8,en;q=0.7')).toBe('zh');
    expect(pickLocale('en;q=0.5, zh;q=0.6')).toBe('zh');
    expect(pickLocale('zh;q=0, en')).toBe('en');
    expect(pickLocale('de, ja')).toBe('en');
    expect(pickLocale('ZH-hans')).toBe('zh');
  });

  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('says an expired link expired, when, and how to get the video again', () => {
    const html = renderProblemPage('expired', 'en', { hours: 72, keepHours: 72, expiredAtMs: NOW });
    expect(html).toContain('This link has expired');
    expect(html).toContain('Download links last 72 h');
    expect(html).toContain('/enhance');
    expect(html).toContain(`datetime="${new Date(NOW).toISOString()}"`);
    expect(html).toContain('2030-01-01 12:00 UTC');
    expect(renderProblemPage('expired', 'zh', { hours: 24, keepHours: 72 })).toContain('下载链接有效 24 小时');
    expect(renderProblemPage('forbidden', 'en', { hours: 1, keepHours: 1 })).toContain('This link is not valid');
    expect(renderProblemPage('not-found', 'zh', { hours: 1, keepHours: 1 })).toContain('找不到视频');
  });
});

describe('publicBaseUrl and linkSecret', () => {
  let dir: string;
  let base: Config;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dl-links-'));
    base = loadConfig({ env: { DANCELIFT_DATA_DIR: path.join(dir, 'data') } });
    base.web.linkSecret = '';
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const withWeb = (web: Partial<Config['web']>, dataDir?: string): Config => ({ ...base, dataDir: dataDir ?? base.dataDir, web: { ...base.web, ...web } });

  it('publicBaseUrl: the configured one without trailing slash, else localhost:<port>', () => {
    expect(publicBaseUrl(withWeb({ publicBaseUrl: 'https://x.example/dl/', port: 1234 }))).toBe('https://x.example/dl');
    expect(publicBaseUrl(withWeb({ publicBaseUrl: '', port: 1234 }))).toBe('http://localhost:1234');
  });

  it('warns at start-up when a bot is on and the links point at localhost', () => {
    const cfg = (web: Partial<Config['web']>, over: Partial<Config> = {}): Config => ({ ...withWeb(web), roles: ['bots', 'worker', 'web'], telegram: { ...base.telegram, token: '1:x' }, ...over });
    expect(publicUrlWarning(cfg({ publicBaseUrl: '' }))).toMatch(/^PUBLIC_BASE_URL is unset \(links use http:\/\/localhost:8080\)/);
    for (const url of ['http://localhost:8080', 'http://127.0.0.1:9000/dl', 'http://[::1]:8080', 'http://0.0.0.0:8080', 'http://app.localhost'])
      expect(publicUrlWarning(cfg({ publicBaseUrl: url })), url).toContain('only open on this machine');
    expect(publicUrlWarning(cfg({ publicBaseUrl: 'not a url' }))).toMatch(/is not a URL/);
    for (const url of ['https://dance.example.com', 'http://192.168.1.20:8080', 'http://localhost.example.org'])
      expect(publicUrlWarning(cfg({ publicBaseUrl: url })), url).toBeUndefined();
    // No bot, no warning: the CLI and a worker-only host send no links to chats.
    expect(publicUrlWarning(cfg({ publicBaseUrl: '' }, { roles: ['worker', 'web'] }))).toBeUndefined();
    expect(publicUrlWarning(cfg({ publicBaseUrl: '' }, { telegram: { ...base.telegram, token: '' }, discord: { ...base.discord, token: '' } }))).toBeUndefined();
    expect(publicUrlWarning(cfg({ publicBaseUrl: '' }, { telegram: { ...base.telegram, token: '' }, discord: { ...base.discord, token: 'd' } }))).toContain('localhost');
  });

  it('uses the configured secret when there is one', async () => {
    expect(await linkSecret(withWeb({ linkSecret: 'from-config' }, path.join(dir, 'unused')))).toBe('from-config');
    await expect(fs.stat(path.join(dir, 'unused'))).rejects.toThrow();
  });

  it('creates <dataDir>/link-secret once (0600) and reads it back, even under a race', async () => {
    const cfg = withWeb({ linkSecret: '' }, path.join(dir, 'fresh', 'data'));
    const all = await Promise.all(Array.from({ length: 8 }, () => linkSecret(cfg)));
    expect(new Set(all).size).toBe(1);
    expect(all[0]).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(cfg.dataDir, SECRET_FILE);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect(await linkSecret(cfg)).toBe(all[0]);
    expect((await fs.readdir(cfg.dataDir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a truncated secret file rather than signing with it', async () => {
    const cfg = withWeb({ linkSecret: '' }, path.join(dir, 'short'));
    await fs.mkdir(cfg.dataDir, { recursive: true });
    await fs.writeFile(path.join(cfg.dataDir, SECRET_FILE), 'abc\n');
    await expect(linkSecret(cfg)).rejects.toThrow(/too short/);
  });
});
