/**
 * Pure: what a bot button does, as callback data. Callback data must fit Telegram's 64 bytes, so a
 * button names a background by its index in the list the menu was drawn from (kept with the
 * menu's session), never by its name: a library name can be long, and non-ASCII names take
 * several bytes per character.
 */
import type { RvmVariant } from '../machine/rvm-variants.js';
import type { MenuAspect, UpscaleModel } from './menu.js';

/** Telegram's limit on callback_data, in bytes (UTF-8). */
export const CALLBACK_DATA_MAX_BYTES = 64;

export type MenuAction =
  | { kind: 'bg'; index: number }
  | { kind: 'page'; page: number }
  | { kind: 'scale'; scale: 2 | 4 }
  | { kind: 'upscaleOnly' }
  | { kind: 'keepCutout' }
  | { kind: 'model'; model: UpscaleModel }
  | { kind: 'mattingModel'; mattingModel: RvmVariant }
  | { kind: 'aspect'; aspect: MenuAspect }
  | { kind: 'preview' }
  | { kind: 'exportAlpha' }
  | { kind: 'start' }
  | { kind: 'close' }
  /** A label button (the page number): nothing to do. */
  | { kind: 'noop' };

/** What a status message's button does to its job. */
export type JobAction = { kind: 'cancelJob' } | { kind: 'again' } | { kind: 'renderAll' };
const JOB_CODES: Record<JobAction['kind'], string> = { cancelJob: 'x', again: 'a', renderAll: 'f' };

export type Callback = { scope: 'menu'; session: string; action: MenuAction } | { scope: 'job'; jobId: string; action: JobAction };

export interface Button {
  text: string;
  data: string;
}

const ID = /^[A-Za-z0-9_-]{1,40}$/;

/** Two-letter codes (the parser's [a-z]+), none a prefix clash with the one-letter ones. */
const MODEL_CODES: Record<UpscaleModel, string> = { general: 'mg', anime: 'ma' };
const MATTING_CODES: Record<RvmVariant, string> = { mobilenetv3: 'rf', resnet50: 'rh' };
const ASPECT_CODES: Record<MenuAspect, string> = { source: 'as', '9:16': 'av', '1:1': 'aq', '16:9': 'aw' };
const CODED_ACTIONS: Record<string, MenuAction> = {
  u: { kind: 'upscaleOnly' },
  k: { kind: 'keepCutout' },
  go: { kind: 'start' },
  x: { kind: 'close' },
  n: { kind: 'noop' },
  pv: { kind: 'preview' },
  t: { kind: 'exportAlpha' },
  ...Object.fromEntries(Object.entries(MODEL_CODES).map(([model, code]) => [code, { kind: 'model', model: model as UpscaleModel }])),
  ...Object.fromEntries(Object.entries(MATTING_CODES).map(([m, code]) => [code, { kind: 'mattingModel', mattingModel: m as RvmVariant }])),
  ...Object.fromEntries(Object.entries(ASPECT_CODES).map(([a, code]) => [code, { kind: 'aspect', aspect: a as MenuAspect }])),
};

function encodeAction(a: MenuAction): string {
  switch (a.kind) {
    case 'bg':
      return `b${a.index}`;
    case 'page':
      return `p${a.page}`;
    case 'scale':
      return `s${a.scale}`;
    case 'upscaleOnly':
      return 'u';
    case 'keepCutout':
      return 'k';
    case 'model':
      return MODEL_CODES[a.model];
    case 'mattingModel':
      return MATTING_CODES[a.mattingModel];
    case 'aspect':
      return ASPECT_CODES[a.aspect];
    case 'preview':
      return 'pv';
    case 'exportAlpha':
      return 't';
    case 'start':
      return 'go';
    case 'close':
      return 'x';
    case 'noop':
      return 'n';
  }
}

/** "m:<session>:<action>" or "j:<jobId>:<action>"; throws if it would not fit 64 bytes. */
export function encodeCallback(cb: Callback): string {
  const id = cb.scope === 'menu' ? cb.session : cb.jobId;
  if (!ID.test(id)) throw new Error(`callback id "${id}" must be 1-40 characters of [A-Za-z0-9_-]`);
  const data = cb.scope === 'menu' ? `m:${id}:${encodeAction(cb.action)}` : `j:${id}:${JOB_CODES[cb.action.kind]}`;
  if (Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_MAX_BYTES) throw new Error(`callback data too long: ${data}`);
  return data;
}

/** The inverse of encodeCallback; null for anything else (old formats, forged data). */
export function parseCallback(data: string): Callback | null {
  if (Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_MAX_BYTES) return null;
  const m = /^([mj]):([A-Za-z0-9_-]{1,40}):([a-z]+)(\d*)$/.exec(data);
  if (!m) return null;
  const [, scope, id, code, digits] = m;
  const n = digits === '' ? null : Number(digits);
  if (scope === 'j') {
    if (n !== null) return null;
    const kind = (Object.keys(JOB_CODES) as JobAction['kind'][]).find((k) => JOB_CODES[k] === code);
    return kind ? { scope: 'job', jobId: id, action: { kind } } : null;
  }
  let action: MenuAction | null = null;
  if (code === 'b' && n !== null && n < 10_000) action = { kind: 'bg', index: n };
  else if (code === 'p' && n !== null && n < 10_000) action = { kind: 'page', page: n };
  else if (code === 's' && (n === 2 || n === 4)) action = { kind: 'scale', scale: n };
  else if (n === null) {
    action = Object.hasOwn(CODED_ACTIONS, code) ? CODED_ACTIONS[code] : null;
  }
  return action ? { scope: 'menu', session: id, action } : null;
}

