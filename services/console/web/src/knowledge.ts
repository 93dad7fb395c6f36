/**
 * The knowledge service in the agent console (docs/knowledge.md, forwarded by the console server as
 * /knowledge/*): suggested articles on the offer card and in the conversation, canned replies in the
 * reply box, and a draft article from a resolved case.
 *
 * Knowledge is a help, never a gate: every call here fails quietly (no suggestions, no replies
 * listed), so a knowledge outage never blocks an offer or a reply.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from './html';
import { t } from './i18n';
import { api, account } from './session';
import type { Conversation } from './agent-state';
import { suggestionQuery } from './reply-text';

export interface Suggestion { id: string; language: string; title: string; link: string; category: string | null; highlight: string; matchedBy: string[] }
export interface CannedReply { id: string; scope: 'personal' | 'team'; shortcut: string; language: string; title: string; body: string }


// The router's offer frame carries the suggestions it fetched once for the conversation: used as
// they are. Without them (an older router, knowledge off or slow when the conversation opened), one
// fetch per conversation (the offer card and the conversation view share it); a failure is not
// kept, so the next opening asks again.
const cache = new Map<string, Promise<Suggestion[]>>();
export function suggestionsFor(c: Conversation): Promise<Suggestion[]> {
  if (c.suggestions?.length) return Promise.resolve(c.suggestions.map((s) => ({ matchedBy: [], ...s })));
  let p = cache.get(c.id);
  if (!p) {
    const q = suggestionQuery(c.info, c.items);
    if (q === null) return Promise.resolve([]);
    p = api<{ suggestions: Suggestion[] }>(`/knowledge/v1/suggestions?${q}`).then(
      (r) => r.suggestions,
      () => {
        cache.delete(c.id);
        return [];
      },
    );
    cache.set(c.id, p);
    if (cache.size > 200) cache.delete(cache.keys().next().value!);
  }
  return p;
}

function useSuggestions(c: Conversation): Suggestion[] {
  const [list, setList] = useState<Suggestion[]>([]);
  // waits for the offer's facts (category/language) or a first message when it opens fresh
  const ready = !!c.suggestions?.length || suggestionQuery(c.info, c.items) !== null;
  useEffect(() => {
    if (!ready) return;
    let stop = false;
    void suggestionsFor(c).then((s) => !stop && setList(s));
    return () => void (stop = true);
  }, [c.id, ready, c.suggestions]);
  return list;
}

/** Records that the agent used an article in a conversation (the helped rate counts it); best effort. */
export const recordUse = (articleId: string, conversationId: string) =>
  api(`/knowledge/v1/articles/${encodeURIComponent(articleId)}/uses`, { method: 'POST', body: { conversationId } }).catch(() => undefined);

/** The suggested articles: read-only on an offer, with insert buttons in a conversation. */
export function Suggestions({ c, onInsert }: { c: Conversation; onInsert?: (text: string) => void }) {
  const list = useSuggestions(c);
  const [busy, setBusy] = useState('');
  if (!list.length) return null;
  const insert = async (s: Suggestion, what: 'link' | 'text') => {
    setBusy(s.id);
    try {
      let text = `${s.title}: ${s.link}`;
      if (what === 'text') {
        const a = await api<{ article: { body: string }; link: string }>(`/knowledge/v1/articles/${encodeURIComponent(s.id)}`).catch(() => null);
        if (a) text = `${a.article.body.trim()}\n\n${a.link}`;
      }
      onInsert!(text);
      void recordUse(s.id, c.id);
    } finally {
      setBusy('');
    }
  };
  return html`<section class="suggestions" data-testid="suggestions" aria-label=${t('kb.suggestions')}>
    <h4>${t('kb.suggestions')}</h4>
    <ul>
      ${list.map(
        (s) => html`<li key=${s.id} data-testid="suggestion" data-article=${s.id}>
          <a href=${s.link} target="_blank" rel="noopener noreferrer">${s.title}</a> <small>${s.language}</small>
          ${onInsert &&
          html`<span class="actions">
            <button type="button" data-testid="insert-link" disabled=${busy === s.id} aria-label=${t('kb.insertLinkOf', { title: s.title })} onClick=${() => void insert(s, 'link')}>${t('kb.insertLink')}</button>
            <button type="button" data-testid="insert-text" disabled=${busy === s.id} aria-label=${t('kb.insertTextOf', { title: s.title })} onClick=${() => void insert(s, 'text')}>${t('kb.insertText')}</button>
          </span>`}
        </li>`,
      )}
    </ul>
  </section>`;
}

/**
 * Canned replies matching `shortcut` (personal before team, in the conversation's language);
 * choosing one renders its placeholders on the knowledge service and hands the text back.
 */
export function CannedReplies({ c, shortcut, onChoose, onClose }: { c: Conversation; shortcut: string; onChoose: (text: string) => void; onClose: () => void }) {
  const [replies, setReplies] = useState<CannedReply[] | null>(null);
  useEffect(() => {
    let stop = false;
    const q = new URLSearchParams({ limit: '8' });
    if (shortcut) q.set('shortcut', shortcut);
    if (c.info?.language) q.set('language', c.info.language);
    const timer = setTimeout(() => {
      void api<{ replies: CannedReply[] }>(`/knowledge/v1/canned-replies?${q}`).then(
        (r) => !stop && setReplies(r.replies),
        () => !stop && setReplies([]),
      );
    }, 120);
    return () => ((stop = true), clearTimeout(timer));
  }, [c.id, shortcut, c.info?.language]);
  const choose = async (r: CannedReply) => {
    const me = account();
    const body = { conversationId: c.id, ...(c.info?.customer?.name ? { customerName: c.info.customer.name } : {}), ...(me ? { agentName: me.username } : {}) };
    const out = await api<{ text: string }>(`/knowledge/v1/canned-replies/${encodeURIComponent(r.id)}/render`, { method: 'POST', body }).catch(() => ({ text: r.body }));
    onChoose(out.text);
  };
  return html`<div class="canned card" data-testid="canned-replies" role="group" aria-label=${t('kb.canned')}>
    <header><b>${t('kb.canned')}</b>${shortcut ? html` <code>/${shortcut}</code>` : ''} <button type="button" onClick=${onClose}>${t('conv.cancel')}</button></header>
    ${replies === null ? html`<p class="muted">${t('conv.loading')}</p>` : replies.length === 0 ? html`<p class="muted" data-testid="canned-none">${t('kb.cannedNone')}</p>` : ''}
    <ul>
      ${(replies ?? []).map(
        (r) => html`<li key=${r.id}><button type="button" data-testid="canned-reply" data-shortcut=${r.shortcut} onClick=${() => void choose(r)}>
          <code>/${r.shortcut}</code> ${r.title} <small>${t(`kb.scope.${r.scope}`)}</small>
        </button></li>`,
      )}
    </ul>
  </div>`;
}

interface Draft { article: { id: string; title: string; status: string }; link: string }

/**
 * A conversation the agent just resolved: "write an article from this case" asks the knowledge
 * service for a draft pre-filled from the transcript (history may need a moment to learn the
 * resolution: a 409 is retried for a while).
 */
export function ResolvedCase({ id, name, language, onDismiss }: { id: string; name: string; language?: string | null; onDismiss: () => void }) {
  const [draft, setDraft] = useState<Draft | null>(null);
  const [state, setState] = useState<'idle' | 'busy' | 'error'>('idle');
  const [error, setError] = useState('');
  const write = async () => {
    setState('busy');
    setError('');
    const q = language ? `?language=${encodeURIComponent(language)}` : '';
    for (let attempt = 0; ; attempt++) {
      try {
        setDraft(await api<Draft>(`/knowledge/v1/articles/from-conversation/${encodeURIComponent(id)}${q}`, { method: 'POST' }));
        setState('idle');
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if ((status === 409 || status === 503 || status === 404) && attempt < 40) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        setError(t('error.generic', { message: (err as Error).message }));
        setState('error');
        return;
      }
    }
  };
  return html`<article class="card resolved" data-testid="resolved-case" data-conversation=${id} aria-label=${t('kb.resolved', { name })}>
    <p>${t('kb.resolved', { name })}</p>
    ${draft
      ? html`<p role="status" data-testid="draft">${t('kb.draftCreated')} <a href=${draft.link} target="_blank" rel="noopener noreferrer" data-testid="draft-link">${draft.article.title}</a> <code data-testid="draft-id">${draft.article.id}</code></p>`
      : html`<button type="button" data-testid="write-article" disabled=${state === 'busy'} onClick=${() => void write()}>${state === 'busy' ? t('kb.writing') : t('kb.writeArticle')}</button>`}
    ${error && html`<p role="alert" class="error">${error}</p>`}
    <button type="button" onClick=${onDismiss}>${t('kb.dismiss')}</button>
  </article>`;
}
