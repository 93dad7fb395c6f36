/**
 * Pure text helpers of the reply box's knowledge features (no DOM, unit- and property-tested):
 * the "/shortcut" being typed, putting a canned reply or an article in place, and the query the
 * suggestions are asked with.
 */
import type { ConversationInfo, ThreadItem } from './agent-state';

/** The "/shortcut" the agent is typing at the end of the reply, if any ('' for a bare "/"). */
export function shortcutAt(text: string): string | null {
  const m = /(?:^|\s)\/([\w.-]{0,64})$/u.exec(text);
  return m ? m[1]! : null;
}

/** `add` on a line of its own after what the agent wrote (trailing blanks dropped). */
export const appendLine = (text: string, add: string) => (text.trim() ? `${text.replace(/\s+$/u, '')}\n${add}` : add);

/** The reply with the typed "/shortcut" replaced by the rendered canned reply (appended when none is typed). */
export function replaceShortcut(text: string, rendered: string): string {
  const s = shortcutAt(text);
  return s === null ? appendLine(text, rendered) : text.slice(0, text.length - s.length - 1) + rendered;
}

/** The reply with the typed "/shortcut" removed (the list was closed without choosing). */
export function dropShortcut(text: string): string {
  const s = shortcutAt(text);
  return s === null ? text : text.slice(0, text.length - s.length - 1);
}

/** At most `max` code points, with NUL and unpaired surrogates (which the services refuse) replaced. */
export function cleanText(text: string, max: number): string {
  const fixed = text.replace(/\u0000/gu, ' ').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/gu, '\uFFFD');
  return Array.from(fixed).slice(0, max).join('');
}

/** The query string of GET /knowledge/v1/suggestions for a conversation, or null when there is nothing to ask with. */
export function suggestionQuery(info: ConversationInfo | undefined, items: ThreadItem[], limit = 3): string | null {
  const lastIn = [...items].reverse().find((i) => i.direction === 'in' && !i.earlier);
  const text = cleanText(info?.lastText ?? lastIn?.text ?? '', 1000).trim();
  const q = new URLSearchParams({ limit: String(limit) });
  if (info?.category) q.set('category', info.category);
  if (info?.language) q.set('language', info.language);
  if (text) q.set('text', text);
  return q.has('category') || q.has('text') ? q.toString() : null;
}
