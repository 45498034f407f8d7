import { createHash, timingSafeEqual } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import { logger as rootLogger, type Logger } from '../log.js';
import { verifyLink } from './links.js';

/**
 * The web role: signed download links for finished videos (`/files/...`), a health check
 * (`/healthz`) and, behind a token or basic auth, Bull Board over the queues (`/admin/queues`).
 * Files are served by plain node:http; express is loaded only for Bull Board, and only when the
 * admin view is configured.
 */

export const ADMIN_BASE_PATH = '/admin/queues';
const FILES_PREFIX = '/files/';
const REALM = 'dancelift';

export interface WebServerOptions {
  config: Config;
  /** The folder the links point into (the data dir's outputs/). */
  outputsDir: string;
  /** Signs the links (see linkSecret()). */
  secret: string;
  /** BullMQ queues shown in the admin view. */
  queues?: Queue[];
  log?: Logger;
  /** How long close() lets responses in flight finish before cutting them (ms). */
  closeGraceMs?: number;
  /** The clock links are checked against (ms); for tests. */
  now?: () => number;
}

export interface WebServer {
  /** Where this process listens (a loopback address when bound to all interfaces). */
  url: string;
  port: number;
  close(): Promise<void>;
}

// --- pure helpers ----------------------------------------------------------------------------

const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
};

export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * `attachment` with a quoted ASCII fallback name and the exact UTF-8 name (RFC 6266 / 8187).
 * Quotes, backslashes and control characters (bidi overrides included) are dropped from both.
 */
export function contentDisposition(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f"\\\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  let ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/%/g, '_');
  if (!ascii.replace(/[_.\s]/g, '')) ascii = 'download' + (path.extname(ascii) || '');
  const encoded = encodeURIComponent(clean || ascii).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export type RangeResult = { kind: 'none' } | { kind: 'unsatisfiable' } | { kind: 'range'; start: number; end: number };

/**
 * One `bytes=` range against a file of `size` bytes: `a-b`, `a-` or `-n`. Several ranges, or a
 * header that is not a byte range at all, are ignored (the whole file is served).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'none' };
  const spec = m[1].trim();
  if (spec.includes(',')) return { kind: 'none' };
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (!r || (!r[1] && !r[2])) return { kind: 'none' };
  if (!r[1]) {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  if (start >= size) return { kind: 'unsatisfiable' };
  if (!r[2]) return { kind: 'range', start, end: size - 1 };
  const last = Number(r[2]);
  if (last < start) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(last, size - 1) };
}

/**
 * A decoded path relative to the outputs dir that cannot name anything outside it: no absolute
 * path, no `.`/`..`/empty segment, no NUL, no backslash.
 */
export function isSafeRelPath(rel: string): boolean {
  if (!rel || rel.length > 1024) return false;
  if (rel.includes('\0') || rel.includes('\\')) return false;
  if (rel.startsWith('/') || path.isAbsolute(rel) || path.win32.isAbsolute(rel)) return false;
  return rel.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time whatever the lengths: both sides are hashed first. */
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

interface AdminAuth {
  check(authorization: string | undefined): boolean;
  challenge: string;
}

/** null when neither a token nor a user and password are configured: the admin view is off. */
export function adminAuth(admin: Config['web']['admin']): AdminAuth | null {
  const token = admin.token;
  const basic = admin.user !== '' && admin.password !== '';
  if (!token && !basic) return null;
  return {
    challenge: basic ? `Basic realm="${REALM}"` : `Bearer realm="${REALM}"`,
    check(authorization) {
      if (!authorization) return false;
      const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(authorization);
      if (!m) return false;
      const scheme = m[1].toLowerCase();
      if (scheme === 'bearer' && token) return safeEqual(m[2], token);
      if (scheme === 'basic' && basic) {
        const decoded = Buffer.from(m[2], 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) return false;
        const userOk = safeEqual(decoded.slice(0, colon), admin.user);
        const passOk = safeEqual(decoded.slice(colon + 1), admin.password);
        return userOk && passOk;
      }
      return false;
    },
  };
}

// --- the server ------------------------------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, head = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(head ? undefined : body);
}

async function buildAdminApp(queues: Queue[]): Promise<Handler> {
  const [{ default: express }, { createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([
    import('express'),
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/express'),
  ]);
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_BASE_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    // @bull-board/express may carry its own copy of @bull-board/api (a patch version apart): the
    // interface is the same, only TypeScript's nominal check on private fields differs.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'dancelift' } },
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(ADMIN_BASE_PATH, serverAdapter.getRouter());
  return app as unknown as Handler;
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { config, outputsDir, secret } = opts;
  if (!secret) throw new Error('startWebServer: the link secret is empty');
  const log = (opts.log ?? rootLogger).child({ component: 'web' });
  const now = opts.now ?? Date.now;
  const auth = adminAuth(config.web.admin);
  const adminApp = auth ? await buildAdminApp(opts.queues ?? []) : null;

  async function serveFile(req: IncomingMessage, res: ServerResponse, encodedPath: string, query: string): Promise<void> {
    const head = req.method === 'HEAD';
    let rel: string | undefined;
    res.on('close', () => {
      // The path only: the query carries the signature.
      log.debug({ method: req.method, path: rel ?? encodedPath, range: req.headers.range, status: res.statusCode }, 'file request');
    });
    if (req.method !== 'GET' && !head) {
      plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    try {
      rel = decodeURIComponent(encodedPath);
    } catch {
      plain(res, 403, 'forbidden\n', {}, head);
      return;
    }
    const params = new URLSearchParams(query);
    const check = verifyLink(rel, params.get('exp') ?? undefined, params.get('sig') ?? undefined, secret, now());
    if (check !== 'ok') {
      plain(res, 403, 'forbidden\n', {}, head);
      return;
    }
    const notFound = () => plain(res, 404, 'not found\n', {}, head);
    if (!isSafeRelPath(rel)) return notFound();

    let root: string;
    let real: string;
    try {
      root = await fs.realpath(outputsDir);
      real = await fs.realpath(path.join(root, rel));
    } catch {
      return notFound();
    }
    if (!real.startsWith(root + path.sep)) return notFound();

    let file: fs.FileHandle;
    try {
      file = await fs.open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch {
      return notFound();
    }
    let handedOff = false;
    try {
      const st = await file.stat();
      if (!st.isFile()) return notFound();
      const size = st.size;
      const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
      const lastModified = st.mtime.toUTCString();
      const headers: Record<string, string> = {
        'Content-Type': contentTypeFor(real),
        'Accept-Ranges': 'bytes',
        'Content-Disposition': contentDisposition(path.posix.basename(rel)),
        'Cache-Control': 'private',
        'Referrer-Policy': 'no-referrer',
        ETag: etag,
        'Last-Modified': lastModified,
      };
      const ifRange = req.headers['if-range'];
      const rangeAllowed = ifRange === undefined || ifRange === etag || ifRange === lastModified;
      const range = rangeAllowed ? parseRange(req.headers.range, size) : ({ kind: 'none' } as const);
      if (range.kind === 'unsatisfiable') {
        plain(res, 416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' }, head);
        return;
      }
      let start = 0;
      let end = size - 1;
      if (range.kind === 'range') {
        ({ start, end } = range);
        headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      }
      const length = size === 0 ? 0 : end - start + 1;
      headers['Content-Length'] = String(length);
      res.writeHead(range.kind === 'range' ? 206 : 200, headers);
      if (head || length === 0) {
        res.end();
        return;
      }
      const stream = file.createReadStream({ start, end, autoClose: true });
      handedOff = true;
      pipeline(stream, res, (err) => {
        if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn({ err: err.message, path: rel }, 'file stream failed');
      });
    } finally {
      if (!handedOff) await file.close().catch(() => {});
    }
  }

  function serveAdmin(req: IncomingMessage, res: ServerResponse): void {
    if (!auth || !adminApp) {
      plain(res, 404, 'not found\n');
      return;
    }
    if (!auth.check(req.headers.authorization)) {
      plain(res, 401, 'unauthorized\n', { 'WWW-Authenticate': auth.challenge });
      return;
    }
    adminApp(req, res);
  }

  const server = http.createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? '' : rawUrl.slice(q + 1);
    const fail = (err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err), path: pathname }, 'web request failed');
      plain(res, 500, 'internal error\n');
    };
    try {
      if (pathname === '/healthz') {
        if (req.method === 'GET' || req.method === 'HEAD') plain(res, 200, 'ok', {}, req.method === 'HEAD');
        else plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      } else if (pathname.startsWith(FILES_PREFIX)) {
        serveFile(req, res, pathname.slice(FILES_PREFIX.length), query).catch(fail);
      } else if (pathname === ADMIN_BASE_PATH || pathname.startsWith(`${ADMIN_BASE_PATH}/`)) {
        serveAdmin(req, res);
      } else {
        plain(res, 404, 'not found\n', {}, req.method === 'HEAD');
      }
    } catch (err) {
      fail(err);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.web.port, config.web.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'web server error'));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${displayHost(config.web.host)}:${port}`;
  log.info({ url, admin: auth ? ADMIN_BASE_PATH : 'off' }, 'web role listening');

  let closing: Promise<void> | undefined;
  const graceMs = opts.closeGraceMs ?? 2000;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
