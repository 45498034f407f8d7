/**
 * Checksum-verified downloads. Nothing unverified ever sits at the destination path: bytes go to
 * a temp file beside it (same filesystem, so the final rename is atomic) and are only renamed into
 * place once their sha256 matches.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export type FetchLike = typeof fetch;

export type DownloadErrorKind = 'network' | 'http' | 'checksum';

export class DownloadError extends Error {
  readonly kind: DownloadErrorKind;
  readonly url: string;
  constructor(kind: DownloadErrorKind, url: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DownloadError';
    this.kind = kind;
    this.url = url;
  }
}

export interface DownloadOptions {
  signal?: AbortSignal;
  fetch?: FetchLike;
  /** Give up when no byte has arrived for this long (a dead link must not hang setup). */
  stallTimeoutMs?: number;
}

export interface DownloadResult {
  /** False when dest already held the right file and nothing was fetched. */
  downloaded: boolean;
  bytes: number;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function fileExists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The innermost cause's message: undici's "fetch failed" alone tells the user nothing. */
function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Fetches `url` into `dest` if `dest` does not already hold a file with this sha256. On a wrong
 * checksum, an HTTP error or a network failure, nothing is left behind and a DownloadError says
 * which of the three it was.
 */
export async function downloadVerified(url: string, dest: string, sha256: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const expected = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new Error(`downloadVerified: "${sha256}" is not a sha256 hex digest`);
  if ((await fileExists(dest)) && (await sha256File(dest)) === expected) {
    return { downloaded: false, bytes: (await stat(dest)).size };
  }

  const doFetch = opts.fetch ?? fetch;
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const stall = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const armStall = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  };
  const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;

  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${randomBytes(4).toString('hex')}.part`);
  try {
    armStall();
    let res: Response;
    try {
      res = await doFetch(url, { signal, redirect: 'follow' });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new DownloadError('network', url, `could not download ${url}: ${rootMessage(stall.signal.reason ?? err)}`, { cause: err });
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new DownloadError('http', url, `could not download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
    }

    // Only now: a failed fetch should not leave empty folders behind.
    await mkdir(path.dirname(dest), { recursive: true });
    const hash = createHash('sha256');
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        armStall();
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(tmp), { signal });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new DownloadError('network', url, `download of ${url} broke off after ${bytes} bytes: ${rootMessage(stall.signal.reason ?? err)}`, { cause: err });
    }

    const got = hash.digest('hex');
    if (got !== expected) {
      throw new DownloadError(
        'checksum',
        url,
        `checksum mismatch for ${url}: expected sha256 ${expected}, got ${got} (${bytes} bytes); the file was not installed`,
      );
    }
    await rename(tmp, dest);
    return { downloaded: true, bytes };
  } finally {
    clearTimeout(timer);
    await rm(tmp, { force: true });
  }
}
