import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';

// Raw HTML in an article's Markdown is not rendered at all (html: false), and what markdown-it
// produces still goes through an allowlist sanitiser: links only http(s)/mailto, no scripts, no
// event handlers, no styles. Two layers because an article is written by one person and shown to
// every agent (and, for tier 0, to customers).
const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

const ALLOWED = {
  allowedTags: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'ul', 'ol', 'li', 'strong', 'em', 's', 'code', 'pre', 'blockquote', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td'],
  allowedAttributes: { a: ['href', 'title'], th: ['align'], td: ['align'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowProtocolRelative: false,
  transformTags: { a: sanitizeHtml.simpleTransform('a', { rel: 'noopener noreferrer nofollow', target: '_blank' }) },
} satisfies sanitizeHtml.IOptions;
ALLOWED.allowedAttributes.a.push('rel', 'target');

/** An article's Markdown as HTML that is safe to put in a page. */
export function renderMarkdown(markdown: string): string {
  return sanitizeHtml(md.render(markdown), ALLOWED);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The start and stop markers ts_headline is asked to put around matches (private-use characters, removed from the text first). */
export const MARK_START = '\uE000';
export const MARK_STOP = '\uE001';

/** A ts_headline fragment (plain text with the markers) as safe HTML with <mark> around the matches. */
export function highlightHtml(fragment: string): string {
  return escapeHtml(fragment).replace(/\uE000/g, '<mark>').replace(/\uE001/g, '</mark>');
}
