/** Pure: a bot text (Rich) as Telegram HTML (parse_mode "HTML"): &, <, > escaped, quotes too in attributes. */
import { render, type Rich } from '../rich.js';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function toHtml(r: Rich): string {
  return render(r, {
    text: escapeHtml,
    bold: (s) => `<b>${s}</b>`,
    italic: (s) => `<i>${s}</i>`,
    code: (s) => `<code>${escapeHtml(s)}</code>`,
    link: (text, url) => `<a href="${escapeHtml(url)}">${escapeHtml(text)}</a>`,
    // Written out, not an <a> tag: Telegram drops links it does not accept (a host without a dot,
    // such as the default http://localhost:8080), and the user would see no link at all.
    url: escapeHtml,
  });
}
