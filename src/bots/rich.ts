/**
 * Pure: the bots' texts in a platform-neutral form. A `Rich` is plain text (a string) or a list of
 * spans: plain text, bold, italic, code, a link behind a word, or a URL written out. Line breaks
 * are "\n" in the text. No platform's syntax here: each platform renders a Rich itself, escaping
 * what its own markup needs (Telegram: telegram/markup.ts → HTML; Discord: discord/markup.ts →
 * markdown). Whatever came from a user or a file is a plain span, so it is always escaped there.
 */

export type Span =
  | string
  | { readonly bold: Rich }
  | { readonly italic: Rich }
  | { readonly code: string }
  /** A link behind a word. */
  | { readonly link: string; readonly url: string }
  /** A URL written out as text (visible and copyable even where the platform refuses a link). */
  | { readonly url: string };

export type Rich = string | readonly Span[];

/** What the helpers take: texts or single spans. */
export type Part = Rich | Span;

/** Parts one after the other, as one Rich. */
export const rich = (...parts: Part[]): Span[] => parts.flatMap((p): readonly Span[] => (Array.isArray(p) ? (p as readonly Span[]) : [p as Span]));
export const bold = (...parts: Part[]): Span => ({ bold: rich(...parts) });
export const italic = (...parts: Part[]): Span => ({ italic: rich(...parts) });
export const code = (text: string): Span => ({ code: text });
export const link = (text: string, url: string): Span => ({ link: text, url });
export const url = (u: string): Span => ({ url: u });

/** Parts on lines of their own. */
export function lines(...parts: Part[]): Span[] {
  return parts.flatMap((p, i) => (i === 0 ? rich(p) : ['\n', ...rich(p)]));
}

/** How a platform writes each kind of span (`text` escapes plain text for its markup). */
export interface Renderer {
  text(s: string): string;
  bold(inner: string): string;
  italic(inner: string): string;
  code(s: string): string;
  link(text: string, url: string): string;
  url(u: string): string;
}

export function render(r: Rich, to: Renderer): string {
  if (typeof r === 'string') return to.text(r);
  return r
    .map((s) => {
      if (typeof s === 'string') return to.text(s);
      if ('bold' in s) return to.bold(render(s.bold, to));
      if ('italic' in s) return to.italic(render(s.italic, to));
      if ('code' in s) return to.code(s.code);
      if ('link' in s) return to.link(s.link, s.url);
      return to.url(s.url);
    })
    .join('');
}

/** The text a reader sees, without any markup (lengths, logs, tests). */
export const plainText = (r: Rich): string =>
  render(r, { text: (s) => s, bold: (s) => s, italic: (s) => s, code: (s) => s, link: (t) => t, url: (u) => u });
