/**
 * A small streaming multipart/form-data parser for the fake Telegram server: fields are kept in
 * memory, file parts are streamed to disk (so 60+ MB uploads never sit in memory), with a per-file
 * size limit past which the file is dropped and the rest of the body is read and discarded (so the
 * client sees a clean 413 answer rather than a reset connection).
 *
 * It accepts what grammY sends (`content-disposition:form-data;name="x";filename=clip.mp4`, no space
 * after the colon and an unquoted file name), as well as the usual quoted form and RFC 5987
 * `filename*=UTF-8''...`.
 */
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';

export interface UploadedPart {
  /** The part's form field name (for grammY, the random id its `attach://<id>` points at). */
  field: string;
  filename: string;
  contentType: string;
  bytes: number;
  path: string;
}

export interface MultipartResult {
  fields: Map<string, string>;
  files: UploadedPart[];
  /** A file part was larger than the limit: it was not kept. */
  tooLarge: boolean;
  /** The body did not end with the closing boundary. */
  truncated: boolean;
}

export class MultipartError extends Error {}

export function boundaryOf(contentType: string): string | undefined {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

function dispositionParams(value: string): { name?: string; filename?: string } {
  const out: { name?: string; filename?: string } = {};
  const n = value.length;
  let i = 0;
  while (i < n) {
    while (i < n && (value[i] === ';' || value[i] === ' ' || value[i] === '\t')) i++;
    const eq = value.indexOf('=', i);
    if (eq < 0) break;
    const key = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (value[i] === ' ') i++;
    let v = '';
    if (value[i] === '"') {
      i++;
      while (i < n && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < n) i++;
        v += value[i++];
      }
      i++;
    } else if (key === 'filename') {
      // grammY writes the file name unquoted and last: take the rest of the header.
      v = value.slice(i).trim();
      i = n;
    } else {
      const end = value.indexOf(';', i);
      v = value.slice(i, end < 0 ? n : end).trim();
      i = end < 0 ? n : end;
    }
    if (key === 'name') out.name = v;
    else if (key === 'filename' && out.filename === undefined) out.filename = v;
    else if (key === 'filename*') {
      const star = /^[^']*'[^']*'(.*)$/.exec(v);
      try {
        out.filename = decodeURIComponent(star ? star[1]! : v);
      } catch {
        out.filename = v;
      }
    }
  }
  return out;
}

const safeName = (name: string): string => path.basename(name).replace(/[^\w.\-+]+/g, '_').slice(-120) || 'file';

/**
 * Parse a multipart body. `dir` receives the files as `<seq>-<filename>`; `nextSeq` numbers them.
 */
export async function parseMultipart(
  body: AsyncIterable<Buffer>,
  boundary: string,
  opts: { dir: string; fileLimitBytes: number; fieldLimitBytes?: number; nextSeq: () => number },
): Promise<MultipartResult> {
  const fieldLimit = opts.fieldLimitBytes ?? 16 * 1024 * 1024;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const keep = delimiter.length - 1;
  const result: MultipartResult = { fields: new Map(), files: [], tooLarge: false, truncated: true };

  type State = 'preamble' | 'afterDelimiter' | 'headers' | 'body' | 'epilogue';
  let state: State = 'preamble';
  // A CRLF in front lets the first boundary (which has none) match the same delimiter.
  let buf: Buffer = Buffer.from('\r\n');

  let part:
    | {
        name: string;
        filename?: string;
        contentType: string;
        chunks: Buffer[];
        size: number;
        stream?: WriteStream;
        path?: string;
        dropped: boolean;
      }
    | undefined;

  const write = async (data: Buffer): Promise<void> => {
    if (!part || data.length === 0) return;
    part.size += data.length;
    if (part.filename === undefined) {
      if (part.size > fieldLimit) throw new MultipartError(`form field "${part.name}" is too big`);
      part.chunks.push(data);
      return;
    }
    if (part.dropped) return;
    if (part.size > opts.fileLimitBytes) {
      result.tooLarge = true;
      part.dropped = true;
      const stream = part.stream!;
      stream.end();
      await once(stream, 'close').catch(() => undefined);
      rmSync(part.path!, { force: true });
      return;
    }
    if (!part.stream!.write(data)) await once(part.stream!, 'drain');
  };

  const finishPart = async (): Promise<void> => {
    if (!part) return;
    const p = part;
    part = undefined;
    if (p.filename === undefined) {
      result.fields.set(p.name, Buffer.concat(p.chunks).toString('utf8'));
      return;
    }
    if (p.dropped) return;
    const stream = p.stream!;
    stream.end();
    await once(stream, 'close');
    result.files.push({ field: p.name, filename: p.filename, contentType: p.contentType, bytes: p.size, path: p.path! });
  };

  const startPart = (headerBlock: string): void => {
    const headers = parseHeaders(headerBlock);
    const disposition = dispositionParams(`;${(headers.get('content-disposition') ?? '').replace(/^[^;]*/, '')}`);
    const name = disposition.name ?? '';
    const contentType = headers.get('content-type') ?? 'application/octet-stream';
    if (disposition.filename === undefined) {
      part = { name, contentType, chunks: [], size: 0, dropped: false };
      return;
    }
    const file = path.join(opts.dir, `${opts.nextSeq()}-${safeName(disposition.filename)}`);
    const stream = createWriteStream(file);
    stream.on('error', () => undefined);
    part = { name, filename: disposition.filename, contentType, chunks: [], size: 0, stream, path: file, dropped: false };
  };

  // Process as much of `buf` as possible; returns when more input is needed.
  const step = async (): Promise<void> => {
    for (;;) {
      if (state === 'epilogue') {
        buf = Buffer.alloc(0);
        return;
      }
      if (state === 'preamble') {
        const idx = buf.indexOf(delimiter);
        if (idx < 0) {
          if (buf.length > keep) buf = buf.subarray(buf.length - keep);
          return;
        }
        buf = buf.subarray(idx + delimiter.length);
        state = 'afterDelimiter';
        continue;
      }
      if (state === 'afterDelimiter') {
        if (buf.length < 2) return;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          result.truncated = false;
          state = 'epilogue';
          continue;
        }
        // transport padding, then CRLF
        let j = 0;
        while (j < buf.length && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
        if (j + 2 > buf.length) return;
        if (buf[j] !== 0x0d || buf[j + 1] !== 0x0a) throw new MultipartError('malformed multipart boundary line');
        buf = buf.subarray(j + 2);
        state = 'headers';
        continue;
      }
      if (state === 'headers') {
        if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
          startPart('');
          buf = buf.subarray(2);
          state = 'body';
          continue;
        }
        const idx = buf.indexOf('\r\n\r\n');
        if (idx < 0) {
          if (buf.length > 64 * 1024) throw new MultipartError('multipart part headers are too long');
          return;
        }
        startPart(buf.subarray(0, idx).toString('utf8'));
        buf = buf.subarray(idx + 4);
        state = 'body';
        continue;
      }
      // body
      const idx = buf.indexOf(delimiter);
      if (idx < 0) {
        const safe = buf.length - keep;
        if (safe > 0) {
          await write(buf.subarray(0, safe));
          buf = buf.subarray(safe);
        }
        return;
      }
      await write(buf.subarray(0, idx));
      await finishPart();
      buf = buf.subarray(idx + delimiter.length);
      state = 'afterDelimiter';
    }
  };

  try {
    for await (const chunk of body) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      await step();
    }
    await step();
  } catch (err) {
    if (part?.stream) {
      part.stream.destroy();
      rmSync(part.path!, { force: true });
    }
    for (const f of result.files) rmSync(f.path, { force: true });
    throw err;
  }
  if (part) {
    // body ended inside a part
    const p = part as { stream?: WriteStream; path?: string };
    if (p.stream) {
      p.stream.destroy();
      rmSync(p.path!, { force: true });
    }
    part = undefined;
  }
  return result;
}
