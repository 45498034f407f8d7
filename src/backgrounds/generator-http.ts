/**
 * HTTP to the user's image generator, with every failure turned into GENERATOR_FAILED and a
 * reason the user can act on (server down, too slow, refused). Node's own fetch: the servers speak
 * plain JSON over HTTP, so no client library is needed.
 */
import { PipelineError } from '../errors.js';

export interface GeneratorHttp {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:7860. */
  base: string;
  /** Fires at the generation's deadline (timeoutS). */
  deadline: AbortSignal;
  timeoutS: number;
  /** The caller's cancel (Ctrl-C, a cancelled job). */
  signal?: AbortSignal;
}

export function generatorError(reason: string, message: string, params: Record<string, string | number> = {}, cause?: unknown): PipelineError {
  return new PipelineError('GENERATOR_FAILED', message, { reason, ...params }, cause === undefined ? undefined : { cause });
}

/** The low-level cause of a failed fetch: ECONNREFUSED, ENOTFOUND, UND_ERR_HEADERS_TIMEOUT... */
function causeCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return '';
}

function failure(http: GeneratorHttp, err: unknown): PipelineError {
  if (http.signal?.aborted) return new PipelineError('CANCELLED', 'cancelled', {}, { cause: err });
  const code = causeCode(err);
  if (http.deadline.aborted || /TIMEOUT/i.test(code)) {
    return generatorError('timeout', `${http.base}: no picture within ${http.timeoutS} s`, { url: http.base, seconds: http.timeoutS }, err);
  }
  const detail = code || (err instanceof Error ? err.message : String(err));
  return generatorError('unreachable', `${http.base}: ${detail}`, { url: http.base, detail }, err);
}

/** Short, one-line text of an error body: the JSON's message fields when it has them. */
export function errorDetail(status: number, body: string): string {
  let text = body.trim();
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const parts: string[] = [];
    const pick = (v: unknown) => {
      if (typeof v === 'string' && v.trim()) parts.push(v.trim());
      else if (Array.isArray(v)) for (const x of v) pick(typeof x === 'object' && x ? ((x as { msg?: unknown; message?: unknown; details?: unknown }).msg ?? (x as { message?: unknown }).message) : x);
      else if (v && typeof v === 'object') pick((v as { message?: unknown }).message ?? (v as { msg?: unknown }).msg);
    };
    // FastAPI (AUTOMATIC1111): detail (string or list of {loc,msg}); its 500s: error + errors; ComfyUI: error.message.
    pick(j.detail);
    pick(j.error);
    pick(j.errors);
    if (parts.length) text = [...new Set(parts)].join('; ');
  } catch {
    /* not JSON: the text itself */
  }
  return `HTTP ${status}${text ? ` ${text.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`;
}

async function call(http: GeneratorHttp, pathAndQuery: string, init: RequestInit): Promise<Response> {
  const signal = http.signal ? AbortSignal.any([http.deadline, http.signal]) : http.deadline;
  let res: Response;
  try {
    res = await fetch(`${http.base}${pathAndQuery}`, { ...init, signal });
  } catch (err) {
    throw failure(http, err);
  }
  if (!res.ok) {
    const body = await res.text().catch(() => '');
    const detail = errorDetail(res.status, body);
    throw generatorError('refused', `${http.base}${pathAndQuery}: ${detail}`, { url: http.base, detail, status: res.status });
  }
  return res;
}

/** POSTs or GETs JSON; the body is read under the same deadline. */
export async function requestJson(http: GeneratorHttp, pathAndQuery: string, body?: unknown): Promise<unknown> {
  const init: RequestInit = body === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await call(http, pathAndQuery, init);
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw failure(http, err);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw generatorError('bad-image', `${http.base}${pathAndQuery}: not JSON`, { url: http.base, detail: 'the answer is not JSON' });
  }
}

export async function requestBytes(http: GeneratorHttp, pathAndQuery: string): Promise<Buffer> {
  const res = await call(http, pathAndQuery, { method: 'GET' });
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    throw failure(http, err);
  }
}

/** Waits `ms`, or less when the deadline or the caller's cancel fires (then the next call reports it). */
export function pause(http: GeneratorHttp, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const signals = [http.deadline, http.signal].filter((s): s is AbortSignal => Boolean(s));
    const done = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}

/** Throws the timeout/cancel error when either has fired. */
export function checkDeadline(http: GeneratorHttp): void {
  if (http.signal?.aborted || http.deadline.aborted) throw failure(http, http.deadline.reason ?? http.signal?.reason);
}
