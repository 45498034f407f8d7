import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLink } from '../src/web/links.js';
import { SECRET_FILE } from '../src/web/secret.js';
import { launchChromium, noBrowserReason } from './helpers/browser.js';
import { makeClip } from './helpers/fixtures.js';
import { clips, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { until } from './helpers/wait.js';
import { freePort } from './helpers/net.js';

/**
 * The link a chat user opens, opened the way they would: a job submitted to a freshly started
 * service (`dancelift start`, empty data dir) with `dancelift submit --wait --json`, and its "link"
 * loaded in Debian's headless Chromium. The page must play the video (Range requests, 206), offer
 * the original bytes for download, carry the card tags, and a 30-second link must answer 410
 * once it has expired.
 */

const skip = noBrowserReason();
if (skip) console.warn(`web-browser.e2e skipped: ${skip}`);

const tmp = tempDir('dancelift-browser-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const cli = path.join(repoRoot, 'bin', 'dancelift.js');
const prefix = `dltest-${randomBytes(4).toString('hex')}`;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let port = 0;
let server: ResultPromise | undefined;

const childEnv = (extra: Record<string, string> = {}) => ({
  ...process.env,
  REDIS_URL: redisUrl,
  DANCELIFT_QUEUE_PREFIX: prefix,
  DANCELIFT_DATA_DIR: work('data'),
  DANCELIFT_TEMP_DIR: work('tmp'),
  DANCELIFT_RVM_MODEL: rvmModel,
  DANCELIFT_ORT_PROVIDERS: 'cpu',
  DANCELIFT_MAX_SHORT_SIDE: '256',
  DANCELIFT_HTTP_PORT: String(port),
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  LOG_LEVEL: 'warn',
  ...extra,
});

afterAll(async () => {
  if (server) {
    server.kill('SIGTERM');
    await server;
  }
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  tmp.remove();
});

describe.skipIf(Boolean(skip))('the watch page in a real browser (Debian chromium)', () => {
  let line: { ok: boolean; output: string; link: string };
  let clip: string;

  beforeAll(async () => {
    // 2 s at 8 fps of the dancing girl: enough to play past 0.3 s and to seek.
    clip = await makeClip(tmp.dir, 'dance.mp4', clips.girl, { seconds: 2, width: 160, height: 160, fps: 8, audio: false });
    port = await freePort();
    server = execa('node', [cli, 'start'], { reject: false, env: childEnv({ DANCELIFT_ROLES: 'worker,web' }) });
    await until('web role', () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), 60_000);
    const submit = await execa('node', [cli, 'submit', clip, '--bg', '#204080', '--upscaler', 'ffmpeg', '--wait', '--json'], { reject: false, env: childEnv() });
    expect(submit.exitCode, submit.stderr).toBe(0);
    line = JSON.parse(submit.stdout.trim());
    expect(line.ok).toBe(true);
  });

  it('plays the video from the link, seeks with Range (206), downloads the original bytes, and carries the card tags', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const rawResponses: Array<{ status: number; range?: string }> = [];
      page.on('response', (r) => {
        if (new URL(r.url()).pathname.startsWith('/raw/')) rawResponses.push({ status: r.status(), range: r.request().headers().range });
      });
      const res = await page.goto(line.link);
      expect(res?.status()).toBe(200);
      expect(await page.title()).toBe('dance.enhanced.mp4');

      // Plays: currentTime moves past 0.3 s after play() (muted: headless has no user gesture).
      const played = await page.evaluate(async () => {
        const v = document.querySelector('video')!;
        v.muted = true;
        await v.play();
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`stuck at ${v.currentTime} (readyState ${v.readyState}, error ${v.error?.code})`)), 20_000);
          v.addEventListener('timeupdate', () => {
            if (v.currentTime > 0.3) {
              clearTimeout(t);
              resolve();
            }
          });
        });
        return { time: v.currentTime, width: v.videoWidth, height: v.videoHeight, duration: v.duration };
      });
      expect(played.time).toBeGreaterThan(0.3);
      expect([played.width, played.height]).toEqual([320, 320]);
      expect(played.duration).toBeCloseTo(2, 0);

      // Seeks: back to 0.1 s and forward to 1.5 s, each landing where asked.
      const seeked = await page.evaluate(async () => {
        const v = document.querySelector('video')!;
        v.pause();
        const seek = (t: number) =>
          new Promise<number>((resolve) => {
            v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
            v.currentTime = t;
          });
        return [await seek(1.5), await seek(0.1)];
      });
      expect(seeked[0]).toBeCloseTo(1.5, 1);
      expect(seeked[1]).toBeCloseTo(0.1, 1);
      // The browser fetched the file with Range requests, and got 206s.
      expect(rawResponses.length).toBeGreaterThan(0);
      expect(rawResponses.filter((r) => r.range?.startsWith('bytes=')).every((r) => r.status === 206)).toBe(true);
      expect(rawResponses.some((r) => r.status === 206)).toBe(true);

      // The card tags a chat app builds its preview from.
      const og = async (p: string) => page.locator(`meta[property="${p}"]`).getAttribute('content');
      const ogVideo = await og('og:video');
      expect(ogVideo).toBe(line.link.replace('/files/', '/raw/'));
      expect(await og('og:video:type')).toBe('video/mp4');
      const ogImage = (await og('og:image'))!;
      const poster = await page.request.get(ogImage);
      expect(poster.status()).toBe(200);
      expect(poster.headers()['content-type']).toBe('image/jpeg');
      expect(await page.evaluate(() => (document.querySelector('video') as HTMLVideoElement).poster)).toBe(ogImage);

      // The size, resolution and expiry are on the page.
      const text = await page.locator('main').innerText();
      expect(text).toContain('320×320');
      expect(text).toMatch(/Link expires/);

      // The Download button gives the original bytes.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      expect(download.suggestedFilename()).toBe('dance.enhanced.mp4');
      const saved = await readFile((await download.path())!);
      expect(saved.equals(await readFile(line.output))).toBe(true);

      await page.screenshot({ path: work('page.png'), fullPage: true });
      expect(readFileSync(work('page.png')).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await browser.close();
    }
  });

  it('a link signed for 30 seconds opens before it expires and shows the 410 page after', async () => {
    const secret = readFileSync(work('data', SECRET_FILE), 'utf8').trim();
    const rel = decodeURIComponent(new URL(line.link).pathname.slice('/files/'.length));
    const base = `http://127.0.0.1:${port}`;
    // Signed now, and signed 31 s ago: the same 30-second lifetime, one current and one expired.
    const fresh = makeLink(base, rel, 30, secret);
    const stale = makeLink(base, rel, 30, secret, Date.now() - 31_000);
    const browser = await launchChromium({ locale: 'zh-CN' });
    try {
      const page = await browser.context.newPage();
      expect((await page.goto(fresh))?.status()).toBe(200);
      const res = await page.goto(stale);
      expect(res?.status()).toBe(410);
      const text = await page.locator('main').innerText();
      expect(text).toContain('此链接已过期');
      expect(text).toContain('/enhance');
      expect(await page.locator('video').count()).toBe(0);
      // The file under the same expired signature: 410 as well.
      expect((await page.request.get(stale.replace('/files/', '/raw/'))).status()).toBe(410);
    } finally {
      await browser.close();
    }
  });
});
