import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';

/**
 * Signed, expiring links: `<base>/files/<relPath>?exp=<unix s>&sig=<HMAC-SHA256>` opens the watch
 * page; the same `exp` and `sig` open the file itself under `/raw/` and its poster under `/poster/`.
 * The signature covers the decoded path relative to the outputs dir and the expiry, so neither can
 * be changed without the secret. Pure functions: no I/O, the clock is a parameter.
 */

export type LinkCheck = 'ok' | 'expired' | 'bad';

/** base64url of a SHA-256 HMAC: always 43 characters. */
const SIG_RE = /^[A-Za-z0-9_-]{43}$/;
/** Unix seconds; 12 digits is far past any sensible expiry. */
const EXP_RE = /^[0-9]{1,12}$/;

function hmac(relPath: string, expiresAt: number, secret: string): Buffer {
  if (!secret) throw new Error('link secret is empty');
  return createHmac('sha256', secret).update(`${relPath}\n${expiresAt}`).digest();
}

/** HMAC-SHA256 over `${relPath}\n${expiresAt}` (unix seconds), base64url without padding. */
export function signPath(relPath: string, expiresAt: number, secret: string): string {
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new Error(`bad link expiry: ${expiresAt}`);
  return hmac(relPath, expiresAt, secret).toString('base64url');
}

/** Each `/`-separated segment percent-encoded; the separators kept. */
export function encodeRelPath(relPath: string): string {
  return relPath.split('/').map(encodeURIComponent).join('/');
}

/** The routes one signature opens: the watch page (what users get), the file, its poster frame. */
export const ROUTES = { page: '/files/', raw: '/raw/', poster: '/poster/' } as const;
export type Route = keyof typeof ROUTES;

/**
 * The URL of `route` for `relPath` with an already-signed query, relative to the watch page's own
 * URL (`../` once per path segment, then the route): it works whatever host name or proxy prefix
 * the viewer reached the page through.
 */
export function relativeFromPage(relPath: string, route: Route, query: string): string {
  const up = '../'.repeat(relPath.split('/').length);
  return `${up}${ROUTES[route].slice(1)}${encodeRelPath(relPath)}?${query}`;
}

/** A link to `relPath` (relative to the outputs dir) valid for `ttlS` seconds from `now` (ms). */
export function makeLink(baseUrl: string, relPath: string, ttlS: number, secret: string, now: number = Date.now()): string {
  const expiresAt = Math.floor(now / 1000 + ttlS);
  const base = baseUrl.replace(/\/+$/, '');
  const sig = signPath(relPath, expiresAt, secret);
  return `${base}/files/${encodeRelPath(relPath)}?exp=${expiresAt}&sig=${sig}`;
}

/**
 * Checks a link's query against the decoded relative path. A wrong or malformed signature is `bad`
 * (checked before the expiry, so an attacker learns nothing from the answer); a genuine link past
 * its expiry is `expired`. `now` in ms.
 */
export function verifyLink(relPath: string, exp: string | undefined, sig: string | undefined, secret: string, now: number = Date.now()): LinkCheck {
  if (!secret || typeof exp !== 'string' || typeof sig !== 'string') return 'bad';
  if (!EXP_RE.test(exp) || !SIG_RE.test(sig)) return 'bad';
  const expiresAt = Number(exp);
  const expected = hmac(relPath, expiresAt, secret);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad';
  // A 43-character base64url string carries 2 spare bits: only the canonical spelling is accepted.
  if (given.toString('base64url') !== sig) return 'bad';
  return now >= expiresAt * 1000 ? 'expired' : 'ok';
}

/** Where users reach the web role: config.web.publicBaseUrl, else http://localhost:<port>. */
export function publicBaseUrl(config: Config): string {
  const configured = config.web.publicBaseUrl.trim();
  if (configured) return configured.replace(/\/+$/, '');
  return `http://localhost:${config.web.port}`;
}

/** Host names that only reach this machine. */
function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || /^127\./.test(h) || h === '::1' || h === '0.0.0.0' || h === '::';
}

/**
 * The start-up warning for links a chat user cannot open: a bot is on, and the links it sends
 * point at this machine's loopback address. undefined when all is well.
 */
export function publicUrlWarning(config: Config): string | undefined {
  const botOn = config.roles.includes('bots') && Boolean(config.telegram.token || config.discord.token);
  if (!botOn) return undefined;
  const base = publicBaseUrl(config);
  let host: string;
  try {
    host = new URL(base).hostname;
  } catch {
    return `PUBLIC_BASE_URL (${base}) is not a URL: the download links the bots send will not open. Set it to the address users reach this server at, e.g. https://dance.example.com`;
  }
  if (!isLoopbackHost(host)) return undefined;
  return `PUBLIC_BASE_URL is ${config.web.publicBaseUrl.trim() ? base : `unset (links use ${base})`}: the links the bots send will only open on this machine. Set PUBLIC_BASE_URL (web.publicBaseUrl) to the address users reach this server at, e.g. https://dance.example.com or http://192.168.1.20:${config.web.port}`;
}
