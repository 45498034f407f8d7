/**
 * The bots' one download: retried on a server error, not on a 4xx, cut at the byte limit whatever
 * the server declared; a failed attempt leaves no file behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DownloadTooBig, downloadWithRetry } from '../src/bots/download.js';
import { tempDir } from './helpers/media.js';

const tmp = tempDir('dancelift-dl-');
const log = pino({ level: 'silent' });
afterAll(() => tmp.remove());

/** A server answering each request with the next of `answers` (status, body). */
async function serve(answers: Array<[number, string]>): Promise<{ url: string; hits: () => number; close(): void }> {
  let n = 0;
  const server = http.createServer((_req, res) => {
    const [status, body] = answers[Math.min(n++, answers.length - 1)];
    res.writeHead(status, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`, hits: () => n, close: () => server.close() };
}

describe('downloadWithRetry', () => {
  it('retries a server error, then saves the file', async () => {
    const s = await serve([[502, 'bad gateway'], [200, 'the video']]);
    const target = path.join(tmp.dir, 'a.mp4');
    await downloadWithRetry(s.url, target, { log, backoffMs: 10 });
    expect(readFileSync(target, 'utf8')).toBe('the video');
    expect(s.hits()).toBe(2);
    s.close();
  });

  it('does not retry a 4xx, and keeps no file', async () => {
    const s = await serve([[404, 'gone'], [200, 'never asked for']]);
    const target = path.join(tmp.dir, 'b.mp4');
    await expect(downloadWithRetry(s.url, target, { log, backoffMs: 10 })).rejects.toThrow(/HTTP 404/);
    expect(s.hits()).toBe(1);
    expect(existsSync(target)).toBe(false);
    s.close();
  });

  it('cuts the stream at the limit, without retrying', async () => {
    const s = await serve([[200, 'x'.repeat(5000)]]);
    const target = path.join(tmp.dir, 'c.mp4');
    await expect(downloadWithRetry(s.url, target, { log, limitBytes: 1000, backoffMs: 10 })).rejects.toBeInstanceOf(DownloadTooBig);
    expect(s.hits()).toBe(1);
    expect(existsSync(target)).toBe(false);
    s.close();
  });
});
