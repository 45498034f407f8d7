import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Queue } from 'bullmq';
import send from 'send';
import type { Config } from '../config/schema.js';
import { logger as rootLogger, type Logger } from '../log.js';
import { publicBaseUrl, relativeFromPage, ROUTES, verifyLink, encodeRelPath, type Route } from './links.js';
import { PAGE_CSP, pickLocale, renderProblemPage, renderWatchPage, type LinkProblem } from './watch-page.js';
import { posterFor, videoFacts } from '../queue/watch-meta.js';

/**
 * The web role. One signed link (see links.ts) opens three things: the watch page (`/files/...`,
 * what users get), the file itself (`/raw/...`, inline, or as a download with `?download=1`) and
 * its poster frame (`/poster/...`). A link that does not work says why: 403 forged or tampered,
 * 410 expired (a page on how to get a new one), 404 no such file. Plus a health check (`/healthz`)
 * and, behind a token or basic auth, Bull Board over the queues (`/admin/queues`, read-only unless
 * web.readOnlyAdmin is false). Files are streamed by `send` (Range, ETag, If-None-Match, If-Range,
 * 304/412/416); express is loaded only for Bull Board, and only when the admin view is configured.
 */

export const ADMIN_BASE_PATH = '/admin/queues';
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

/**
 * `attachment` (or `inline`) with a quoted ASCII fallback name and the exact UTF-8 name (RFC 6266
 * / 8187). Quotes, backslashes and control characters (bidi overrides included) are dropped from both.
 */
export function contentDisposition(name: string, type: 'attachment' | 'inline' = 'attachment'): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f"\\\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  let ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/%/g, '_');
  if (!ascii.replace(/[_.\s]/g, '')) ascii = 'download' + (path.extname(ascii) || '');
  const encoded = encodeURIComponent(clean || ascii).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
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

/** Bull Board; `readOnly` hides and refuses (405) retry, clean, promote, pause and the like. */
async function buildAdminApp(queues: Queue[], readOnly: boolean): Promise<Handler> {
  const [{ default: express }, { createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([
    import('express'),
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/express'),
  ]);
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_BASE_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: readOnly })),
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

/** Media types of what the links point at; `send` would guess the same, but the page needs it too. */
const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.jpg': 'image/jpeg',
};

export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** What a signed request leads to: a file inside the outputs dir, or why not. */
type Resolved =
  | { ok: true; rel: string; real: string; root: string; exp: number; query: string }
  | { ok: false; status: 403 | 404 | 410; problem: LinkProblem; expiredAtMs?: number };

const HTTP_PROBLEM = { 403: 'forbidden', 404: 'not-found', 410: 'expired' } as const;

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { config, outputsDir, secret } = opts;
  if (!secret) throw new Error('startWebServer: the link secret is empty');
  const log = (opts.log ?? rootLogger).child({ component: 'web' });
  const now = opts.now ?? Date.now;
  const auth = adminAuth(config.web.admin);
  const adminApp = auth ? await buildAdminApp(opts.queues ?? [], config.web.readOnlyAdmin) : null;
  const problemParams = { hours: config.web.linkTtlHours, keepHours: config.storage.keepOutputsHours };

  /**
   * Checks the signature (forged → 403; genuine but past its expiry → 410), then finds the file
   * without leaving the outputs dir, symlinks included (→ 404).
   */
  async function resolveSigned(encodedPath: string, query: string): Promise<Resolved> {
    let rel: string;
    try {
      rel = decodeURIComponent(encodedPath);
    } catch {
      return { ok: false, status: 403, problem: 'forbidden' };
    }
    const params = new URLSearchParams(query);
    const exp = params.get('exp') ?? undefined;
    const sig = params.get('sig') ?? undefined;
    const check = verifyLink(rel, exp, sig, secret, now());
    if (check === 'bad') return { ok: false, status: 403, problem: 'forbidden' };
    if (check === 'expired') return { ok: false, status: 410, problem: 'expired', expiredAtMs: Number(exp) * 1000 };
    const notFound = { ok: false, status: 404, problem: 'not-found' } as const;
    if (!isSafeRelPath(rel)) return notFound;
    let root: string;
    let real: string;
    try {
      root = await fs.realpath(outputsDir);
      real = await fs.realpath(path.join(root, rel));
      if (!real.startsWith(root + path.sep) || !(await fs.stat(real)).isFile()) return notFound;
    } catch {
      return notFound;
    }
    // Only the signed part travels on: other parameters (download=1) are not passed to the page's URLs.
    return { ok: true, rel, real, root, exp: Number(exp), query: `exp=${exp}&sig=${sig}` };
  }

  function problem(req: IncomingMessage, res: ServerResponse, r: Extract<Resolved, { ok: false }>, html: boolean): void {
    const head = req.method === 'HEAD';
    if (!html) {
      plain(res, r.status, `${HTTP_PROBLEM[r.status].replace('-', ' ')}\n`, {}, head);
      return;
    }
    const body = renderProblemPage(r.problem, pickLocale(req.headers['accept-language']), { ...problemParams, expiredAtMs: r.expiredAtMs });
    page(res, r.status, body, head);
  }

  function page(res: ServerResponse, status: number, body: string, head: boolean): void {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
      'Content-Security-Policy': PAGE_CSP,
      'Referrer-Policy': 'no-referrer',
      Vary: 'Accept-Language',
    });
    res.end(head ? undefined : body);
  }

  /**
   * Streams `abs` (inside `root`) with `send`: it answers Range, If-Range, If-None-Match and
   * If-Modified-Since itself (206/304/412/416). `abs` is already a real path checked to lie
   * inside root; send's own `..` check stays on as a second guard.
   */
  function sendFile(req: IncomingMessage, res: ServerResponse, root: string, abs: string, headers: Record<string, string>): void {
    const stream = send(req, `/${encodeRelPath(path.relative(root, abs).split(path.sep).join('/'))}`, {
      root,
      dotfiles: 'allow',
      index: false,
      cacheControl: false,
      etag: true,
      lastModified: true,
      acceptRanges: true,
    });
    stream.on('headers', (r: ServerResponse) => {
      for (const [k, v] of Object.entries(headers)) r.setHeader(k, v);
    });
    stream.on('error', (err: Error & { status?: number; headers?: Record<string, string> }) => {
      const status = err.status ?? 500;
      if (status >= 500) log.warn({ err: err.message }, 'file stream failed');
      plain(res, status, status === 404 ? 'not found\n' : `${http.STATUS_CODES[status]?.toLowerCase() ?? 'error'}\n`, err.headers ?? {}, req.method === 'HEAD');
    });
    stream.pipe(res);
  }

  async function serveSigned(req: IncomingMessage, res: ServerResponse, route: Route, encodedPath: string, query: string): Promise<void> {
    const head = req.method === 'HEAD';
    let rel: string | undefined;
    res.on('close', () => {
      // The path only: the query carries the signature.
      log.debug({ method: req.method, route, path: rel ?? encodedPath, range: req.headers.range, status: res.statusCode }, 'file request');
    });
    if (req.method !== 'GET' && !head) {
      plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    const r = await resolveSigned(encodedPath, query);
    if (!r.ok) {
      problem(req, res, r, route === 'page');
      return;
    }
    rel = r.rel;
    const type = contentTypeFor(r.real);
    if (route === 'raw') {
      const download = new URLSearchParams(query).get('download') === '1';
      const facts = download ? await videoFacts(r.real) : undefined;
      sendFile(req, res, r.root, r.real, {
        'Content-Type': type,
        'Content-Disposition': contentDisposition(facts?.downloadName ?? path.posix.basename(rel), download ? 'attachment' : 'inline'),
        'Cache-Control': 'private',
        'Referrer-Policy': 'no-referrer',
      });
      return;
    }
    const facts = await videoFacts(r.real);
    if (route === 'poster') {
      const poster = await posterFor(r.real, facts.durationS);
      if (!poster) return problem(req, res, { ok: false, status: 404, problem: 'not-found' }, false);
      sendFile(req, res, r.root, poster, { 'Content-Type': 'image/jpeg', 'Cache-Control': 'private, max-age=3600' });
      return;
    }
    const base = publicBaseUrl(config);
    const abs = (route: Route) => `${base}${ROUTES[route]}${encodeRelPath(r.rel)}?${r.query}`;
    const html = renderWatchPage({
      locale: pickLocale(req.headers['accept-language']),
      facts,
      expiresAtMs: r.exp * 1000,
      type,
      urls: {
        video: relativeFromPage(r.rel, 'raw', r.query),
        download: relativeFromPage(r.rel, 'raw', `${r.query}&download=1`),
        poster: relativeFromPage(r.rel, 'poster', r.query),
        absVideo: abs('raw'),
        absPoster: abs('poster'),
      },
    });
    page(res, 200, html, head);
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
    const signedRoute = (Object.keys(ROUTES) as Route[]).find((r) => pathname.startsWith(ROUTES[r]));
    try {
      if (pathname === '/healthz') {
        if (req.method === 'GET' || req.method === 'HEAD') plain(res, 200, 'ok', {}, req.method === 'HEAD');
        else plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      } else if (signedRoute) {
        serveSigned(req, res, signedRoute, pathname.slice(ROUTES[signedRoute].length), query).catch(fail);
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
