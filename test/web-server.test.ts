import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { ENHANCE_QUEUE } from '../src/queue/jobs.js';
import { makeLink, signPath } from '../src/web/links.js';
import { startWebServer, type WebServer } from '../src/web/server.js';
import { writeWatchMeta } from '../src/queue/watch-meta.js';
import { clips } from './helpers/media.js';

const log = pino({ level: 'silent' });
const SECRET = randomBytes(32).toString('hex');
const OUTSIDE_BYTES = Buffer.from('TOP-SECRET-OUTSIDE-THE-OUTPUTS-DIR');

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the path sent exactly as given: fetch() would normalise `..` and `%2e%2e`. */
function raw(port: number, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function baseConfig(dataDir: string, admin: Partial<Config['web']['admin']> = {}): Config {
  const config = loadConfig({ env: { DANCELIFT_DATA_DIR: dataDir } });
  config.web = { ...config.web, host: '127.0.0.1', port: 0, publicBaseUrl: '', linkSecret: '', admin: { token: '', user: '', password: '', ...admin } };
  return config;
}

/** The signed query for `rel` (decoded), as makeLink would write it. */
function signedQuery(rel: string, ttlS = 3600, now = Date.now()): string {
  const exp = Math.floor(now / 1000 + ttlS);
  return `exp=${exp}&sig=${signPath(rel, exp, SECRET)}`;
}

let dir: string;
let outputs: string;
let outsideFile: string;
const video = randomBytes(10_000);
const uniName = 'He said "hi" — ダンス.mp4';

beforeAll(async () => {
  dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'dl-web-')));
  outputs = path.join(dir, 'data', 'outputs');
  await fs.mkdir(path.join(outputs, 'job1', 'sub'), { recursive: true });
  await fs.writeFile(path.join(outputs, 'job1', 'out.mp4'), video);
  await fs.writeFile(path.join(outputs, 'job1', 'cut.mkv'), video.subarray(0, 500));
  await fs.writeFile(path.join(outputs, 'job1', 'empty.bin'), Buffer.alloc(0));
  await fs.writeFile(path.join(outputs, uniName), video.subarray(0, 10));
  await fs.mkdir(path.join(dir, 'outside'));
  outsideFile = path.join(dir, 'outside', 'secret.txt');
  await fs.writeFile(outsideFile, OUTSIDE_BYTES);
  // A sibling whose name starts with the outputs dir's: a naive prefix check would let it through.
  await fs.mkdir(path.join(dir, 'data', 'outputs-evil'));
  await fs.writeFile(path.join(dir, 'data', 'outputs-evil', 'x.mp4'), OUTSIDE_BYTES);
  await fs.symlink(outsideFile, path.join(outputs, 'escape.mp4'));
  await fs.symlink(path.join(dir, 'outside'), path.join(outputs, 'linkdir'));
  await fs.symlink('../outputs-evil/x.mp4', path.join(outputs, 'sneaky.mp4'));
  await fs.symlink('out.mp4', path.join(outputs, 'job1', 'alias.mp4'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('web server: files', () => {
  let server: WebServer;
  beforeAll(async () => {
    server = await startWebServer({ config: baseConfig(path.join(dir, 'data')), outputsDir: outputs, secret: SECRET, log });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** The watch page's link (what users get). */
  const link = (rel: string, ttlS = 3600, now = Date.now()) => makeLink(server.url, rel, ttlS, SECRET, now);
  /** The same signature on the file itself. */
  const fileLink = (rel: string, ttlS = 3600, now = Date.now()) => link(rel, ttlS, now).replace('/files/', '/raw/');

  it('listens on a real port and answers /healthz', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404);
  });

  it('serves the file under /raw/: exact bytes and the right headers', async () => {
    const res = await fetch(fileLink('job1/out.mp4'));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(video)).toBe(true);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-length')).toBe(String(video.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('cache-control')).toBe('private');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="out.mp4"; filename*=UTF-8''out.mp4`);
    const dl = await fetch(`${fileLink('job1/out.mp4')}&download=1`);
    expect(dl.headers.get('content-disposition')).toBe(`attachment; filename="out.mp4"; filename*=UTF-8''out.mp4`);
    expect(Buffer.from(await dl.arrayBuffer()).equals(video)).toBe(true);
    const mkv = await fetch(fileLink('job1/cut.mkv'));
    expect(mkv.headers.get('content-type')).toBe('video/x-matroska');
    expect(Buffer.from(await mkv.arrayBuffer()).equals(video.subarray(0, 500))).toBe(true);
    const empty = await fetch(fileLink('job1/empty.bin'));
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toBe('application/octet-stream');
    expect(empty.headers.get('content-length')).toBe('0');
    expect((await empty.arrayBuffer()).byteLength).toBe(0);
  });

  it('follows a symlink that stays inside the outputs dir', async () => {
    const res = await fetch(fileLink('job1/alias.mp4'));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(video)).toBe(true);
  });

  it('answers HEAD with the headers and no body', async () => {
    const u = new URL(fileLink('job1/out.mp4'));
    const res = await raw(server.port, u.pathname + u.search, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(video.length));
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.body.length).toBe(0);
  });

  it('serves byte ranges', async () => {
    const url = fileLink('job1/out.mp4');
    const first = await fetch(url, { headers: { Range: 'bytes=0-99' } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-99/${video.length}`);
    expect(first.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await first.arrayBuffer()).equals(video.subarray(0, 100))).toBe(true);

    const suffix = await fetch(url, { headers: { Range: 'bytes=-250' } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe(`bytes ${video.length - 250}-${video.length - 1}/${video.length}`);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(video.subarray(video.length - 250))).toBe(true);

    const open = await fetch(url, { headers: { Range: 'bytes=9000-' } });
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 9000-${video.length - 1}/${video.length}`);
    expect(Buffer.from(await open.arrayBuffer()).equals(video.subarray(9000))).toBe(true);

    const middle = await fetch(url, { headers: { Range: 'bytes=1234-5677' } });
    expect(middle.status).toBe(206);
    expect(Buffer.from(await middle.arrayBuffer()).equals(video.subarray(1234, 5678))).toBe(true);

    const past = await fetch(url, { headers: { Range: `bytes=${video.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${video.length}`);
    await past.arrayBuffer();

    const multi = await fetch(url, { headers: { Range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect(Buffer.from(await multi.arrayBuffer()).equals(video)).toBe(true);

    const staleIfRange = await fetch(url, { headers: { Range: 'bytes=0-9', 'If-Range': '"stale"' } });
    expect(staleIfRange.status).toBe(200);
    expect(Buffer.from(await staleIfRange.arrayBuffer()).equals(video)).toBe(true);
    const etag = first.headers.get('etag')!;
    const freshIfRange = await fetch(url, { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
    expect(freshIfRange.status).toBe(206);
    expect(Buffer.from(await freshIfRange.arrayBuffer()).equals(video.subarray(0, 10))).toBe(true);
  });

  it('answers 304 to If-None-Match and If-Modified-Since, and 412 to a failed If-Match', async () => {
    // Plain node:http: fetch() adds `Cache-Control: no-cache` to conditional requests, which rightly
    // forbids a 304.
    const u = new URL(fileLink('job1/out.mp4'));
    const url = u.pathname + u.search;
    const first = await raw(server.port, url);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^(W\/)?"/);
    const again = await raw(server.port, url, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const since = await raw(server.port, url, { headers: { 'If-Modified-Since': String(first.headers['last-modified']) } });
    expect(since.status).toBe(304);
    const other = await raw(server.port, url, { headers: { 'If-None-Match': '"something-else"' } });
    expect(other.status).toBe(200);
    expect(other.body.equals(video)).toBe(true);
    const ifMatch = await raw(server.port, url, { headers: { 'If-Match': '"something-else"' } });
    expect(ifMatch.status).toBe(412);
  });

  it('tells forged (403), expired (410) and unknown (404) apart, on the page and on the file', async () => {
    const good = new URL(link('job1/out.mp4'));
    const exp = good.searchParams.get('exp')!;
    const sig = good.searchParams.get('sig')!;
    const flipped = sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6);
    const forged = [
      `job1/out.mp4?exp=${exp}&sig=${flipped}`,
      `job1/out.mp4?exp=${Number(exp) + 1000}&sig=${sig}`,
      `job1/cut.mkv?exp=${exp}&sig=${sig}`,
      `job1/out.mp4?exp=${exp}`,
      `job1/out.mp4?sig=${sig}`,
      `job1/out.mp4`,
      `job1/out.mp4?exp=${exp}&sig=${sig}x`,
      `%E0%A4%A?exp=${exp}&sig=${sig}`,
      // A genuine signature moved onto an old expiry is still a forgery, not an expiry.
      `job1/out.mp4?exp=1&sig=${sig}`,
    ];
    for (const p of forged) {
      const file = await raw(server.port, `/raw/${p}`);
      expect(file.status, p).toBe(403);
      expect(file.body.toString()).toBe('forbidden\n');
      expect(file.headers['content-disposition']).toBeUndefined();
      const poster = await raw(server.port, `/poster/${p}`);
      expect(poster.status, p).toBe(403);
      const page = await raw(server.port, `/files/${p}`);
      expect(page.status, p).toBe(403);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body.toString()).toContain('This link is not valid');
    }
    const otherSecret = await fetch(makeLink(server.url, 'job1/out.mp4', 3600, SECRET + 'x'));
    expect(otherSecret.status).toBe(403);
    await otherSecret.arrayBuffer();

    // Genuine but past its expiry: 410, with a page that says how to get the video again.
    const expiredPage = await fetch(link('job1/out.mp4', 60, Date.now() - 3600_000));
    expect(expiredPage.status).toBe(410);
    const html = await expiredPage.text();
    expect(html).toContain('This link has expired');
    expect(html).toContain('/enhance');
    expect(html).not.toContain('<video');
    const expiredFile = await fetch(fileLink('job1/out.mp4', 60, Date.now() - 3600_000));
    expect(expiredFile.status).toBe(410);
    expect(await expiredFile.text()).toBe('expired\n');
    const zh = await fetch(link('job1/out.mp4', 60, Date.now() - 3600_000), { headers: { 'Accept-Language': 'zh-CN,zh;q=0.9,en;q=0.8' } });
    expect(zh.status).toBe(410);
    expect(await zh.text()).toContain('此链接已过期');

    // Genuine and current, but nothing there.
    for (const rel of ['job1/missing.mp4', 'job1', 'job1/sub', 'nope/out.mp4', 'job1/out.mp4/x']) {
      const f = await fetch(fileLink(rel));
      expect(f.status, rel).toBe(404);
      expect(await f.text()).toBe('not found\n');
      const pg = await fetch(link(rel));
      expect(pg.status, rel).toBe(404);
      expect(await pg.text()).toContain('Video not found');
    }
  });

  it('expires a link by the server clock: ok before, 410 from the second it expires', async () => {
    let clock = Date.now();
    const clocked = await startWebServer({ config: baseConfig(path.join(dir, 'data')), outputsDir: outputs, secret: SECRET, log, now: () => clock });
    try {
      const url = makeLink(clocked.url, 'job1/out.mp4', 30, SECRET, clock);
      const before = await fetch(url.replace('/files/', '/raw/'));
      expect(before.status).toBe(200);
      await before.arrayBuffer();
      clock += 31_000;
      const after = await fetch(url);
      expect(after.status).toBe(410);
      expect(await after.text()).toContain('This link has expired');
    } finally {
      await clocked.close();
    }
  });

  it('lets no path escape the outputs dir, signed or not', async () => {
    const abs = outsideFile;
    // [raw path after /files/, the decoded path a signature would cover]
    const cases: Array<[string, string]> = [
      ['..%2foutside%2fsecret.txt', '../outside/secret.txt'],
      ['..%2F..%2Fdata%2Foutside%2Fsecret.txt', '../../data/outside/secret.txt'],
      ['%2e%2e/outside/secret.txt', '../outside/secret.txt'],
      ['%2E%2E%2Foutside%2Fsecret.txt', '../outside/secret.txt'],
      ['job1/../../outside/secret.txt', 'job1/../../outside/secret.txt'],
      ['..%5coutside%5csecret.txt', '..\\outside\\secret.txt'],
      ['job1%5c..%5c..%5coutside%5csecret.txt', 'job1\\..\\..\\outside\\secret.txt'],
      [encodeURIComponent(abs), abs],
      [abs.slice(1), abs.slice(1)], // relative: resolves under outputs, where it does not exist
      [`/${abs.slice(1)}`, abs], // /files//abs/path
      ['job1/out.mp4%00.txt', 'job1/out.mp4\0.txt'],
      ['job1/out.mp4%00', 'job1/out.mp4\0'],
      ['escape.mp4', 'escape.mp4'],
      ['linkdir/secret.txt', 'linkdir/secret.txt'],
      ['sneaky.mp4', 'sneaky.mp4'],
      ['.', '.'],
      ['./job1/out.mp4', './job1/out.mp4'],
      ['%2e%2e', '..'],
      ['%252e%252e/outside/secret.txt', '%2e%2e/outside/secret.txt'],
    ];
    for (const [encoded, decoded] of cases) {
      for (const query of [signedQuery(decoded), `exp=${Math.floor(Date.now() / 1000) + 3600}&sig=${'A'.repeat(43)}`]) {
        for (const route of ['/files/', '/raw/', '/poster/']) {
          const res = await raw(server.port, `${route}${encoded}?${query}`);
          expect(res.status, `${route}${encoded} ${query.slice(0, 20)}`).not.toBe(200);
          expect([403, 404], encoded).toContain(res.status);
          expect(res.body.includes(OUTSIDE_BYTES), encoded).toBe(false);
          expect(res.body.includes(video.subarray(0, 32)), encoded).toBe(false);
        }
      }
    }
    // The escape symlinks exist and would have leaked: the check is what stops them.
    expect((await fs.readFile(path.join(outputs, 'escape.mp4'))).equals(OUTSIDE_BYTES)).toBe(true);
    expect((await fs.readFile(path.join(outputs, 'sneaky.mp4'))).equals(OUTSIDE_BYTES)).toBe(true);
  });

  it('only takes GET and HEAD', async () => {
    for (const u of [new URL(link('job1/out.mp4')), new URL(fileLink('job1/out.mp4'))]) {
      const res = await raw(server.port, u.pathname + u.search, { method: 'POST' });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
    }
  });

  it('gives a safe Content-Disposition for quotes and unicode', async () => {
    const res = await fetch(`${fileLink(uniName)}&download=1`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(video.subarray(0, 10))).toBe(true);
    const cd = res.headers.get('content-disposition')!;
    expect(cd).toBe(`attachment; filename="He said hi _ ___.mp4"; filename*=UTF-8''${encodeURIComponent('He said hi — ダンス.mp4')}`);
    expect(/^[\x20-\x7e]*$/.test(cd)).toBe(true);
  });

  it('has no admin view when no auth is configured', async () => {
    for (const p of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues']) {
      const res = await raw(server.port, p, { headers: { Authorization: 'Bearer anything' } });
      expect(res.status, p).toBe(404);
    }
  });
});

describe('web server: the watch page', () => {
  let server: WebServer;
  const rel = 'job2.enhanced.mp4';
  let clipBytes: Buffer;
  beforeAll(async () => {
    clipBytes = await fs.readFile(clips.girl);
    const abs = path.join(outputs, rel);
    await fs.writeFile(abs, clipBytes);
    await writeWatchMeta(abs, {
      inputName: 'Ballet <1>.mov',
      background: 'studio',
      result: {
        output: rel,
        bytes: clipBytes.length,
        durationS: 2,
        width: 512,
        height: 512,
        hasAudio: false,
        stats: {
          stages: [{ name: 'upscale', seconds: 12.5, fps: 0.6, frames: 8, engine: 'onnx', device: 'cpu' }],
          totalS: 14.25,
          realtimeFactor: 0.14,
          peakTempBytes: 0,
          queueWaitS: 3,
          retries: [],
        },
      },
    });
    const config = baseConfig(path.join(dir, 'data'));
    config.web.publicBaseUrl = 'https://dl.example.org/';
    server = await startWebServer({ config, outputsDir: outputs, secret: SECRET, log });
  });
  afterAll(async () => {
    await server?.close();
  });

  const attr = (html: string, re: RegExp) => re.exec(html)?.[1]?.replace(/&amp;/g, '&');

  it('plays the file from a page with its facts, stats, a download button and the card tags', async () => {
    const pageUrl = makeLink(server.url, rel, 3600, SECRET);
    const res = await fetch(pageUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    // Nothing from another host: every src/href is relative.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain('Ballet &lt;1&gt;.enhanced.mp4');
    expect(html).toContain('512×512');
    expect(html).toMatch(/upscale<\/td><td>12\.5 s/);
    expect(html).toContain('0.14x realtime');
    expect(html).toContain('playsinline');

    const src = new URL(attr(html, /<source src="([^"]+)" type="video\/mp4">/)!, pageUrl);
    expect(src.pathname).toBe(`/raw/${rel}`);
    const ranged = await fetch(src, { headers: { Range: 'bytes=0-1023' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(clipBytes.subarray(0, 1024))).toBe(true);

    const download = new URL(attr(html, /id="download" href="([^"]+)"/)!, pageUrl);
    const dl = await fetch(download);
    expect(dl.headers.get('content-disposition')).toBe(`attachment; filename="Ballet <1>.enhanced.mp4"; filename*=UTF-8''Ballet%20%3C1%3E.enhanced.mp4`);
    expect(Buffer.from(await dl.arrayBuffer()).equals(clipBytes)).toBe(true);

    const poster = new URL(attr(html, /poster="([^"]+)"/)!, pageUrl);
    const img = await fetch(poster);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await img.arrayBuffer());
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');

    // The card: absolute URLs on PUBLIC_BASE_URL, which crawlers fetch.
    const sig = new URL(pageUrl).search;
    expect(attr(html, /property="og:video" content="([^"]+)"/)).toBe(`https://dl.example.org/raw/${rel}${sig}`);
    expect(attr(html, /property="og:video:secure_url" content="([^"]+)"/)).toBe(`https://dl.example.org/raw/${rel}${sig}`);
    expect(attr(html, /property="og:video:type" content="([^"]+)"/)).toBe('video/mp4');
    expect(attr(html, /property="og:video:width" content="([^"]+)"/)).toBe('512');
    expect(attr(html, /property="og:image" content="([^"]+)"/)).toBe(`https://dl.example.org/poster/${rel}${sig}`);
    expect(attr(html, /property="og:title" content="([^"]+)"/)).toBe('Ballet &lt;1&gt;.enhanced.mp4');
    expect(html).toContain('name="twitter:card"');
  });

  it('describes a video without kept facts (a recomposed result) from ffprobe', async () => {
    await fs.copyFile(clips.girl, path.join(outputs, 'bare.mp4'));
    const html = await (await fetch(makeLink(server.url, 'bare.mp4', 3600, SECRET))).text();
    expect(html).toContain('<h1>bare.mp4</h1>');
    expect(html).toContain('512×512');
    expect(html).toContain('<dt>Duration</dt><dd>2 s</dd>');
    expect(html).not.toContain('<details');
  });

  it('speaks Chinese when the browser prefers it', async () => {
    const res = await fetch(makeLink(server.url, rel, 3600, SECRET), { headers: { 'Accept-Language': 'zh-TW,zh;q=0.9,en-US;q=0.8' } });
    const html = await res.text();
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain('下载原始文件');
    const en = await (await fetch(makeLink(server.url, rel, 3600, SECRET), { headers: { 'Accept-Language': 'fr-FR, en;q=0.5, zh;q=0.4' } })).text();
    expect(en).toContain('Download the original');
  });
});

describe('web server: admin view', () => {
  const prefix = `dltest-${randomBytes(6).toString('hex')}`;
  const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) };
  let queue: Queue;
  let both: WebServer;
  let tokenOnly: WebServer;
  const TOKEN = 'adm-' + randomBytes(12).toString('hex');

  beforeAll(async () => {
    queue = new Queue(ENHANCE_QUEUE, { connection, prefix });
    await queue.add('enhance', { hello: 'world' });
    const data = path.join(dir, 'data');
    both = await startWebServer({ config: baseConfig(data, { token: TOKEN, user: 'ada', password: 'pa:ss wörd' }), outputsDir: outputs, secret: SECRET, queues: [queue], log });
    tokenOnly = await startWebServer({ config: baseConfig(data, { token: TOKEN }), outputsDir: outputs, secret: SECRET, queues: [queue], log });
  });

  afterAll(async () => {
    await Promise.all([both?.close(), tokenOnly?.close()]);
    if (queue) {
      await queue.obliterate({ force: true });
      await queue.close();
      const client = new Redis(connection);
      const keys = await client.keys(`${prefix}:*`);
      if (keys.length) await client.del(...keys);
      await client.quit();
    }
  });

  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  it('refuses missing or wrong credentials with 401 and a Basic challenge', async () => {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, basic('ada', 'wrong'), basic('bob', 'pa:ss wörd'), 'Basic !!!', `Token ${TOKEN}`, TOKEN]) {
      const res = await raw(both.port, '/admin/queues', { headers: auth ? { Authorization: auth } : {} });
      expect(res.status, auth).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="dancelift"');
      expect(res.body.toString()).toBe('unauthorized\n');
    }
    const api = await raw(both.port, '/admin/queues/api/queues');
    expect(api.status).toBe(401);
  });

  it('shows Bull Board with the right bearer token', async () => {
    const res = await fetch(`${both.url}/admin/queues`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain('/admin/queues');
    const api = await fetch(`${both.url}/admin/queues/api/queues`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
    const q = body.queues.find((x) => x.name === ENHANCE_QUEUE);
    expect(q).toBeDefined();
    expect(q!.counts.waiting).toBe(1);
  });

  it('takes basic auth (a colon in the password included)', async () => {
    const res = await fetch(`${both.url}/admin/queues`, { headers: { Authorization: basic('ada', 'pa:ss wörd') } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('with a token only: bearer works, basic does not, and the challenge says Bearer', async () => {
    const ok = await fetch(`${tokenOnly.url}/admin/queues`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    const res = await raw(tokenOnly.port, '/admin/queues', { headers: { Authorization: basic('', TOKEN) } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="dancelift"');
  });

  it('is read-only by default: pause and clean are refused and change nothing; web.readOnlyAdmin: false allows them', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const api = (server: WebServer, p: string) => fetch(`${server.url}/admin/queues/api/queues/${ENHANCE_QUEUE}/${p}`, { method: 'PUT', headers: auth });
    const pause = await api(tokenOnly, 'pause');
    expect(pause.status).toBe(405);
    await pause.arrayBuffer();
    const clean = await api(tokenOnly, 'clean/waiting');
    expect(clean.status).toBe(405);
    await clean.arrayBuffer();
    expect(await queue.isPaused()).toBe(false);
    expect(await queue.getWaitingCount()).toBe(1);

    const config = baseConfig(path.join(dir, 'data'), { token: TOKEN });
    config.web.readOnlyAdmin = false;
    const writable = await startWebServer({ config, outputsDir: outputs, secret: SECRET, queues: [queue], log });
    try {
      const ok = await api(writable, 'pause');
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
      expect(await queue.isPaused()).toBe(true);
      await queue.resume();
    } finally {
      await writable.close();
    }
  });

  it('sends nothing outside /admin/queues to Bull Board', async () => {
    for (const p of ['/admin', '/admin/queuesx', '/ADMIN/QUEUES', '/admin/%71ueues']) {
      const res = await raw(both.port, p, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.status, p).toBe(404);
    }
  });
});

describe('web server: lifecycle', () => {
  it('close() returns quickly with keep-alive clients connected, and frees the port', async () => {
    const server = await startWebServer({ config: baseConfig(path.join(dir, 'data')), outputsDir: outputs, secret: SECRET, log });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: server.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    agent.destroy();
    await server.close(); // twice is fine
  });

  it('logs each file request with its status at debug level, and never the signature or credentials', async () => {
    const lines: string[] = [];
    const debugLog = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const config = baseConfig(path.join(dir, 'data'), { token: 'tok-SHOULD-NOT-APPEAR', user: 'u', password: 'pw-SHOULD-NOT-APPEAR' });
    const server = await startWebServer({ config, outputsDir: outputs, secret: SECRET, log: debugLog });
    try {
      const url = makeLink(server.url, 'job1/out.mp4', 60, SECRET);
      const sig = new URL(url).searchParams.get('sig')!;
      await (await fetch(url)).arrayBuffer();
      await (await fetch(url.replace('out.mp4', 'cut.mkv'))).arrayBuffer();
      await (await fetch(`${server.url}/admin/queues`, { headers: { Authorization: 'Bearer tok-SHOULD-NOT-APPEAR' } })).arrayBuffer();
      await new Promise((r) => setTimeout(r, 50));
      const all = lines.join('');
      expect(all).not.toContain(sig);
      expect(all).not.toContain(SECRET);
      expect(all).not.toContain('SHOULD-NOT-APPEAR');
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === 'file request');
      expect(requests.map((o) => [o.level, o.path, o.status])).toEqual([
        [20, 'job1/out.mp4', 200],
        [20, 'job1/cut.mkv', 403],
      ]);
    } finally {
      await server.close();
    }
  });

  it('refuses to start without a secret', async () => {
    await expect(startWebServer({ config: baseConfig(path.join(dir, 'data')), outputsDir: outputs, secret: '', log })).rejects.toThrow(/secret/);
  });
});
