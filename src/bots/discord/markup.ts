/**
 * Pure: a bot text (Rich) as Discord markdown. Markdown characters in plain text are escaped with a
 * backslash (Discord renders `\*` as `*`), except inside URLs, which must stay clickable as written.
 */
import { render, type Rich } from '../rich.js';

export function escapeMarkdown(text: string): string {
  return text
    .split(/(https?:\/\/\S+)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/([\\*_~`|[\]<>])/g, '\\$1').replace(/^([#-])/gm, '\\$1')))
    .join('');
}

/** Discord's inline code cannot escape a backtick: a text with one is written with double backticks. */
const inlineCode = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);

export function toMarkdown(r: Rich): string {
  return render(r, {
    text: escapeMarkdown,
    bold: (s) => `**${s}**`,
    italic: (s) => `*${s}*`,
    code: inlineCode,
    link: (text, url) => `[${escapeMarkdown(text)}](${url})`,
    url: (u) => u,
  });
}
