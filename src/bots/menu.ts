/**
 * Pure: the background menu a chat bot shows under a video — pages of background names, a row of
 * options (x2 / x4 / upscale only / keep cut-out / transparent cut-out; upscaler model; matting
 * network; aspect) and Start / Preview first / Cancel — and the job options it asks for.
 * Platform-neutral: a button is { text, data } (data: callbacks.ts); the Telegram adapter turns
 * rows into an inline keyboard, the Discord one into a select and buttons.
 */
import type { Locale } from '../i18n/messages.js';
import type { RvmVariant } from '../machine/rvm-variants.js';
import { botTexts } from './texts.js';
import { encodeCallback, type Button, type MenuAction } from './callbacks.js';

export { CALLBACK_DATA_MAX_BYTES, encodeCallback, parseCallback, type Button, type Callback, type JobAction, type MenuAction } from './callbacks.js';

export interface MenuBackground {
  /** Library name (what the job gets). */
  name: string;
  /** What the button shows. */
  label: string;
}

export interface MenuState {
  page: number;
  /** Index into the session's background list; null until one is picked. */
  background: number | null;
  /** 1: no upscaling (Discord's scale:none); the menu itself offers x2 and x4. */
  scale: 1 | 2 | 4;
  /** Upscale only: no matting, no new background. */
  upscaleOnly: boolean;
  /** Keep the cut-out, for quick re-tries with another background. */
  keepCutout: boolean;
  /** The upscaler's model; null until pressed = config upscale.model. */
  model: UpscaleModel | null;
  /** The matting network; null until pressed = config matte.rvm.variant. */
  mattingModel: RvmVariant | null;
  /** The output's shape; null until pressed = config reframe (the source's shape by default). */
  aspect: MenuAspect | null;
  /** A short preview job first (MENU_PREVIEW_S), then "Render all". */
  preview: boolean;
  /** Also the dancer alone with alpha (a WebM link with the result). */
  exportAlpha: boolean;
}

/** The shapes the menu offers (the job schema knows a few more). */
export const MENU_ASPECTS = ['source', '9:16', '1:1', '16:9'] as const;
export type MenuAspect = (typeof MENU_ASPECTS)[number];
/** How long a "Preview first" job is, in seconds. */
export const MENU_PREVIEW_S = 5;

export type UpscaleModel = 'general' | 'anime';

/** What the job gets where the menu left a choice open (config's), so the menu can mark it. */
export interface MenuDefaults {
  model: UpscaleModel;
  mattingModel: RvmVariant;
  /** config reframe.aspect, 'source' when not given (it may be a shape the menu does not offer: then none is marked). */
  aspect?: string;
}

/** The menu as first shown: the default background picked, on its page. */
export const initialMenuState = (defaultIndex: number | null, pageSize: number, scale: 1 | 2 | 4 = 2): MenuState => ({
  page: defaultIndex === null ? 0 : Math.floor(defaultIndex / pageSize),
  background: defaultIndex,
  scale,
  upscaleOnly: false,
  keepCutout: false,
  model: null,
  mattingModel: null,
  aspect: null,
  preview: false,
  exportAlpha: false,
});

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

/** The state after a press; `total` is the number of backgrounds in the session's list. */
export function applyMenuAction(state: MenuState, action: MenuAction, total: number, pageSize: number): MenuState {
  switch (action.kind) {
    case 'bg':
      return action.index >= 0 && action.index < total ? { ...state, background: action.index, upscaleOnly: false } : state;
    case 'page':
      return { ...state, page: Math.min(Math.max(0, action.page), pageCount(total, pageSize) - 1) };
    case 'scale':
      return { ...state, scale: action.scale };
    case 'upscaleOnly':
      return { ...state, upscaleOnly: !state.upscaleOnly };
    case 'keepCutout':
      return { ...state, keepCutout: !state.keepCutout };
    case 'model':
      return { ...state, model: action.model };
    case 'mattingModel':
      return { ...state, mattingModel: action.mattingModel };
    case 'aspect':
      return { ...state, aspect: action.aspect };
    case 'preview':
      return { ...state, preview: !state.preview };
    case 'exportAlpha':
      return { ...state, exportAlpha: !state.exportAlpha };
    default:
      return state;
  }
}

/** Two background buttons per row reads well on a phone. */
const PER_ROW = 2;

/** The keyboard: background names (one page), page navigation, options, Start / Cancel. */
export function menuKeyboard(
  session: string,
  state: MenuState,
  backgrounds: readonly MenuBackground[],
  locale: Locale,
  pageSize: number,
  /** false for "Another background": only the background changes. */
  withOptions = true,
  /** Marked where the user has not chosen (config's choice). */
  defaults: MenuDefaults = { model: 'general', mattingModel: 'mobilenetv3', aspect: 'source' },
): Button[][] {
  const t = botTexts(locale);
  const cb = (action: MenuAction) => encodeCallback({ scope: 'menu', session, action });
  const pages = pageCount(backgrounds.length, pageSize);
  const page = Math.min(Math.max(0, state.page), pages - 1);
  const rows: Button[][] = [];
  const first = page * pageSize;
  const shown = backgrounds.slice(first, first + pageSize);
  for (let i = 0; i < shown.length; i += PER_ROW) {
    rows.push(
      shown.slice(i, i + PER_ROW).map((bg, j) => {
        const index = first + i + j;
        const picked = !state.upscaleOnly && state.background === index;
        return { text: `${picked ? '✅ ' : ''}${bg.label}`, data: cb({ kind: 'bg', index }) };
      }),
    );
  }
  if (pages > 1) {
    rows.push([
      { text: '‹', data: cb({ kind: 'page', page: (page - 1 + pages) % pages }) },
      { text: `${page + 1}/${pages}`, data: cb({ kind: 'noop' }) },
      { text: '›', data: cb({ kind: 'page', page: (page + 1) % pages }) },
    ]);
  }
  const mark = (on: boolean, text: string) => `${on ? '✅ ' : ''}${text}`;
  if (withOptions) rows.push([
    { text: mark(state.scale === 2, 'x2'), data: cb({ kind: 'scale', scale: 2 }) },
    { text: mark(state.scale === 4, 'x4'), data: cb({ kind: 'scale', scale: 4 }) },
    { text: mark(state.upscaleOnly, t.optionUpscaleOnly), data: cb({ kind: 'upscaleOnly' }) },
    { text: mark(state.keepCutout, t.optionKeepCutout), data: cb({ kind: 'keepCutout' }) },
    // The dancer alone exists only where matting runs.
    ...(state.upscaleOnly ? [] : [{ text: mark(state.exportAlpha, t.optionTransparent), data: cb({ kind: 'exportAlpha' }) }]),
  ]);
  if (withOptions) {
    const model = state.model ?? defaults.model;
    const matting = state.mattingModel ?? defaults.mattingModel;
    const aspect = state.aspect ?? defaults.aspect ?? 'source';
    // One button that steps through the shapes: a row of four would not fit Discord's five rows.
    const nextAspect = MENU_ASPECTS[(MENU_ASPECTS.indexOf(aspect as MenuAspect) + 1) % MENU_ASPECTS.length];
    rows.push([
      { text: mark(model === 'general', t.optionModelGeneral), data: cb({ kind: 'model', model: 'general' }) },
      { text: mark(model === 'anime', t.optionModelAnime), data: cb({ kind: 'model', model: 'anime' }) },
      // Matting (and reframing, which follows the dancer it finds) does not run for "upscale only".
      ...(state.upscaleOnly
        ? []
        : [
            { text: mark(matting === 'mobilenetv3', t.optionMattingFast), data: cb({ kind: 'mattingModel', mattingModel: 'mobilenetv3' }) },
            { text: mark(matting === 'resnet50', t.optionMattingFine), data: cb({ kind: 'mattingModel', mattingModel: 'resnet50' }) },
            { text: `📐 ${aspect === 'source' ? t.optionAspectSource : aspect}`, data: cb({ kind: 'aspect', aspect: nextAspect }) },
          ]),
    ]);
  }
  rows.push([
    { text: `▶️ ${t.start}`, data: cb({ kind: 'start' }) },
    ...(withOptions ? [{ text: mark(state.preview, t.optionPreviewFirst(MENU_PREVIEW_S)), data: cb({ kind: 'preview' }) }] : []),
    { text: `✖️ ${t.cancel}`, data: cb({ kind: 'close' }) },
  ]);
  return rows;
}

/** Pure: whether the menu can start (a background picked, or upscale only). */
export function menuReady(state: MenuState, total: number): boolean {
  return state.upscaleOnly || (state.background !== null && state.background >= 0 && state.background < total);
}

/** Pure: the job options a started menu asks for (only what the user pressed; the rest stays the worker's config). */
export function menuJobOptions(state: MenuState): {
  scale: 1 | 2 | 4;
  keepCutout: boolean;
  model?: UpscaleModel;
  matting?: 'none';
  mattingModel?: RvmVariant;
  aspect?: MenuAspect;
  preview?: number;
  exportAlpha?: boolean;
} {
  return {
    scale: state.scale,
    keepCutout: state.keepCutout,
    ...(state.model ? { model: state.model } : {}),
    ...(state.upscaleOnly
      ? { matting: 'none' as const }
      : {
          ...(state.mattingModel ? { mattingModel: state.mattingModel } : {}),
          ...(state.aspect ? { aspect: state.aspect } : {}),
          ...(state.exportAlpha ? { exportAlpha: true } : {}),
        }),
    ...(state.preview ? { preview: MENU_PREVIEW_S } : {}),
  };
}
