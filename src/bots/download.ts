/**
 * One download of a user's file for every platform: a platform URL (Discord's signed CDN link, a
 * Telegram file link) streamed to disk, cut at a byte limit whatever size the platform declared,
 * retried on network trouble and server errors, never on a 4xx (gone, forbidden).
 *
 * Ours rather than @grammyjs/files: that plugin fetches with `https.get` only (a self-hosted Bot
 * API server on plain http fails), saves an error page as the file (no status check) and neither
 * caps nor retries. Its local-mode copy is three lines, kept in telegram/download.ts.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';

/** The stream went past the limit (the declared size was wrong, or there was none). */
export class DownloadTooBig extends Error {
  constructor(readonly limitBytes: number) {
    super('over the download limit');
  }
}

export interface DownloadOptions {
  limitBytes?: number;
  attempts?: number;
  /** Wait before retry n is n times this (default 1 s). */
  backoffMs?: number;
  log: Logger;
}

export async function downloadWithRetry(url: string, target: string, opts: DownloadOptions): Promise<void> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await downloadOnce(url, target, opts.limitBytes ?? Infinity);
      return;
    } catch (err) {
      await rm(target, { force: true });
      if (err instanceof DownloadTooBig || (err as { final?: boolean }).final || attempt >= attempts) throw err;
      opts.log.warn({ err: (err as Error).message, attempt }, 'download failed: retrying');
      await new Promise((r) => setTimeout(r, (opts.backoffMs ?? 1000) * attempt));
    }
  }
}

async function downloadOnce(url: string, target: string, limitBytes: number): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) {
    const err = new Error(`download failed: HTTP ${res.status}`);
    if (res.status < 500) Object.assign(err, { final: true });
    throw err;
  }
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(bytes > limitBytes ? new DownloadTooBig(limitBytes) : null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counter, createWriteStream(target));
}
