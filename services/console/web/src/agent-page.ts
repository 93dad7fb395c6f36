import { useEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { html } from './html';
import { t } from './i18n';
import { Shell, useLang } from './shell';
import { account, accessToken, api } from './session';
import { AgentSocket, type SocketStatus } from './agent-socket';
import { CannedReplies, ResolvedCase, Suggestions } from './knowledge';
import { appendLine, dropShortcut, replaceShortcut, shortcutAt } from './reply-text';
import { addItems, applyFrame, emptyState, select, totalUnread, type AgentState, type Conversation, type ConversationInfo, type RouterEvent, type ThreadItem } from './agent-state';

type Action = { kind: 'frame'; f: RouterEvent } | { kind: 'select'; id: string } | { kind: 'items'; id: string; items: ThreadItem[]; info?: ConversationInfo } | { kind: 'away'; reason: string | null };
interface Transcript {
  conversation: { customerId: string; channel: string; tier: number | null; category: string | null };
  messages: { direction: 'inbound' | 'outbound'; eventId: string; at: string; channel: string; text: string; subject?: string }[];
}

function reducer(s: AgentState, a: Action): AgentState {
  switch (a.kind) {
    case 'frame':
      return applyFrame(s, a.f);
    case 'select':
      return select(s, a.id);
    case 'items': {
      const next = addItems(s, a.id, a.items);
      const c = next.conversations[a.id];
      return a.info && c && !c.info ? { ...next, conversations: { ...next.conversations, [a.id]: { ...c, info: a.info } } } : next;
    }
    case 'away':
      return { ...s, awayReason: a.reason };
  }
}

// The state survives a page reload (sessionStorage): with its lastSeq the router replays only what
// the page missed while it was reloading.
const STORE = () => `omni.agent.${account()?.id}`;
function loadState(): AgentState {
  try {
    return { ...emptyState(), ...(JSON.parse(sessionStorage.getItem(STORE()) ?? 'null') as AgentState | null) };
  } catch {
    return emptyState();
  }
}

const AWAY_REASONS = ['break', 'lunch', 'meeting', 'training', 'admin'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type TimelineItem = { eventId: string; occurredAt: string; kind: string; channel: string | null; conversationId: string | null; payload: any };

const SHOWN_STEPS = new Set(['escalated', 'transferred', 'resolved', 'reopened', 'requeued']);

function toThread(conversationId: string, i: TimelineItem): ThreadItem | null {
  const p = i.payload ?? {};
  const earlier = i.conversationId !== conversationId;
  if (i.kind === 'message.inbound' || i.kind === 'message.outbound') {
    return { id: i.eventId, direction: i.kind === 'message.inbound' ? 'in' : 'out', text: String(p.text ?? p.body?.text ?? ''), ...(p.subject ? { subject: String(p.subject) } : {}), at: i.occurredAt, channel: i.channel ?? undefined, conversationId: i.conversationId, earlier };
  }
  // only the turns a person needs in the thread (routing steps such as queued/offered are noise here)
  const step = i.kind.slice('conversation.'.length);
  if (i.kind.startsWith('conversation.') && !earlier && SHOWN_STEPS.has(step)) return { id: i.eventId, direction: 'event', text: t(`step.${step}`), at: i.occurredAt, conversationId: i.conversationId };
  return null;
}

function Countdown({ deadline }: { deadline: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const i = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(i);
  }, []);
  const left = Math.max(0, Math.ceil((Date.parse(deadline) - now) / 1000));
  return html`<span class=${`countdown ${left <= 5 ? 'urgent' : ''}`} role="timer" aria-live="off" data-testid="countdown">${t('offer.expiresIn', { s: left })}</span>`;
}

function Facts({ c }: { c: Conversation }) {
  const i = c.info;
  if (!i) return null;
  return html`<dl class="facts">
    <div><dt>${t('field.customer')}</dt><dd data-testid="customer">${i.customer?.name ?? '—'} <small>${i.customer?.identity ?? ''}</small></dd></div>
    <div><dt>${t('field.channel')}</dt><dd data-testid="channel">${i.channel}</dd></div>
    <div><dt>${t('field.tier')}</dt><dd data-testid="tier">${i.tier}</dd></div>
    <div><dt>${t('field.category')}</dt><dd data-testid="category">${i.category ?? '—'}</dd></div>
    <div><dt>${t('field.language')}</dt><dd data-testid="language">${i.language ?? '—'}</dd></div>
    ${i.priority != null && html`<div><dt>${t('field.priority')}</dt><dd>${String(i.priority)}</dd></div>`}
  </dl>`;
}

function HandoffNotes({ c }: { c: Conversation }) {
  const notes = c.info?.handoffNotes ?? [];
  if (!notes.length) return null;
  return html`<section class="notes" aria-label=${t('offer.handoffNotes')}>
    <h4>${t('offer.handoffNotes')}</h4>
    <ul>${notes.map((n) => html`<li data-testid="handoff-note"><b>${n.fromTier ?? '?'}→${n.toTier}</b> ${n.agentId ? html`<small>${n.agentId}</small>` : ''} ${n.note}</li>`)}</ul>
  </section>`;
}

function OfferCard({ c, send, first }: { c: Conversation; send: Send; first: boolean }) {
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const recent = c.info?.recentConversations ?? [];
  return html`<article class="card offer" data-testid="offer" data-conversation=${c.id} aria-label=${`${t('offers.title')}: ${c.info?.customer?.name ?? c.id}`}>
    <header><b>${c.info?.customer?.name ?? c.id}</b> ${c.deadline && html`<${Countdown} deadline=${c.deadline} />`}</header>
    <${Facts} c=${c} />
    ${c.info?.lastText && html`<p class="last"><span class="label">${t('offer.lastMessage')}:</span> <q data-testid="last-message">${c.info.lastText}</q></p>`}
    <${HandoffNotes} c=${c} />
    <${Suggestions} c=${c} />
    ${recent.length > 0 && html`<details><summary>${t('offer.recent')} (${recent.length})</summary><ul>${recent.map((r) => html`<li>${r.openedAt.slice(0, 10)} · T${r.tier} · ${r.category ?? '—'} · ${r.status}</li>`)}</ul></details>`}
    <div class="actions">
      <button class="primary" data-testid="accept" aria-keyshortcuts=${first ? 'Alt+A' : undefined} onClick=${() => send({ type: 'accept', conversationId: c.id })}>${t('offer.accept')}</button>
      ${!rejecting && html`<button onClick=${() => setRejecting(true)}>${t('offer.reject')}</button>`}
    </div>
    ${rejecting && html`<form class="inline" onSubmit=${(e: Event) => (e.preventDefault(), send({ type: 'reject', conversationId: c.id, ...(reason.trim() ? { reason: reason.trim() } : {}) }))}>
      <label>${t('offer.rejectReason')}<input value=${reason} onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">${t('offer.reject')}</button>
      <button type="button" onClick=${() => setRejecting(false)}>${t('conv.cancel')}</button>
    </form>`}
  </article>`;
}

type Send = (cmd: Record<string, unknown>) => Promise<RouterEvent | undefined>;

function MoveForms({ c, send }: { c: Conversation; send: Send }) {
  const [open, setOpen] = useState<'' | 'escalate' | 'transfer' | 'invite'>('');
  const [error, setError] = useState('');
  const tier = c.info?.tier ?? 1;
  const submit = (kind: 'escalate' | 'transfer' | 'invite') => async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const note = String(f.get('note') ?? '').trim();
    if (kind === 'escalate' && !note) return setError(t('conv.noteRequired'));
    setError('');
    const cmd: Record<string, unknown> =
      kind === 'escalate'
        ? { type: 'escalate', conversationId: c.id, note, toTier: Number(f.get('toTier')) }
        : kind === 'transfer'
          ? { type: 'transfer', conversationId: c.id, ...(f.get('toAgentId') ? { toAgentId: String(f.get('toAgentId')) } : { toTier: Number(f.get('toTier')) }), ...(note ? { note } : {}) }
          : { type: 'invite', conversationId: c.id, agentId: String(f.get('agentId')), role: String(f.get('role')) };
    if (await send(cmd)) setOpen('');
  };
  const tiers = (from: number) => [1, 2, 3, 4, 5].filter((x) => x >= from).map((x) => html`<option value=${x} selected=${x === Math.min(5, tier + 1)}>${x}</option>`);
  return html`<div class="move">
    <div class="actions">
      <button data-testid="open-escalate" aria-expanded=${open === 'escalate'} onClick=${() => (setOpen(open === 'escalate' ? '' : 'escalate'), setError(''))}>${t('conv.escalate')}</button>
      <button aria-expanded=${open === 'transfer'} onClick=${() => setOpen(open === 'transfer' ? '' : 'transfer')}>${t('conv.transfer')}</button>
      <button aria-expanded=${open === 'invite'} onClick=${() => setOpen(open === 'invite' ? '' : 'invite')}>${t('conv.invite')}</button>
    </div>
    ${open === 'escalate' && html`<form class="card inline" data-testid="escalate-form" noValidate onSubmit=${submit('escalate')}>
      <label>${t('conv.toTier')}<select name="toTier">${tiers(tier + 1)}</select></label>
      <label>${t('conv.note')}<textarea name="note" required aria-required="true" aria-invalid=${error ? 'true' : 'false'} aria-describedby="escalate-error" rows="3"></textarea></label>
      <p id="escalate-error" role="alert" class="error" data-testid="escalate-error">${error}</p>
      <button type="submit" data-testid="escalate-submit">${t('conv.escalate')}</button>
    </form>`}
    ${open === 'transfer' && html`<form class="card inline" onSubmit=${submit('transfer')}>
      <label>${t('conv.toAgent')}<input name="toAgentId" /></label>
      <label>${t('conv.toTier')}<select name="toTier">${tiers(1)}</select></label>
      <label>${t('conv.note')}<textarea name="note" rows="2"></textarea></label>
      <button type="submit">${t('conv.transfer')}</button>
    </form>`}
    ${open === 'invite' && html`<form class="card inline" onSubmit=${submit('invite')}>
      <label>${t('conv.toAgent')}<input name="agentId" required /></label>
      <label>${t('conv.role')}<select name="role"><option value="observer">${t('conv.observer')}</option><option value="helper">${t('conv.helper')}</option></select></label>
      <button type="submit">${t('conv.invite')}</button>
    </form>`}
  </div>`;
}

function ConversationView({ c, send, dispatch, replyRef }: { c: Conversation; send: Send; dispatch: (a: Action) => void; replyRef: { current: HTMLTextAreaElement | null } }) {
  const [loading, setLoading] = useState(true);
  const [text, setText] = useState('');
  const [subject, setSubject] = useState('');
  // canned replies: open from the button (all of them) or while "/shortcut" ends the reply text
  const [cannedOpen, setCannedOpen] = useState(false);
  const typedShortcut = shortcutAt(text);
  const shortcut = typedShortcut ?? (cannedOpen ? '' : null);
  const insert = (add: string) => {
    // appended to what the agent wrote, on a line of its own
    setText((cur) => appendLine(cur, add));
    replyRef.current?.focus();
  };
  const chooseCanned = (rendered: string) => {
    setText((cur) => replaceShortcut(cur, rendered));
    setCannedOpen(false);
    replyRef.current?.focus();
  };
  const threadRef = useRef<HTMLOListElement>(null);
  // This conversation's transcript and the customer's whole cross-channel timeline, from history
  // (retried: history learns that this agent may read them from the conversation events, a moment
  // after the offer; a console opened fresh on earlier work knows only the conversation id).
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async (attempt: number) => {
      try {
        const tr = await api<Transcript>(`/history/v1/conversations/${encodeURIComponent(c.id)}`);
        const tl = await api<{ items: TimelineItem[] }>(`/history/v1/customers/${encodeURIComponent(tr.conversation.customerId)}/timeline?limit=200`);
        if (stop) return;
        const items = [
          ...tr.messages.map((m): ThreadItem => ({ id: m.eventId, direction: m.direction === 'inbound' ? 'in' : 'out', text: m.text, ...(m.subject ? { subject: m.subject } : {}), at: m.at, channel: m.channel, conversationId: c.id })),
          ...tl.items.map((i) => toThread(c.id, i)).filter((x): x is ThreadItem => !!x),
        ];
        dispatch({ kind: 'items', id: c.id, items, ...(c.info ? {} : { info: { channel: tr.conversation.channel, tier: tr.conversation.tier ?? 1, category: tr.conversation.category } }) });
        setLoading(false);
        if (!tr.messages.length && attempt < 20) timer = setTimeout(() => void load(attempt + 1), 1000);
      } catch {
        if (!stop && attempt < 20) timer = setTimeout(() => void load(attempt + 1), 1000);
        else setLoading(false);
      }
    };
    void load(0);
    return () => ((stop = true), clearTimeout(timer));
  }, [c.id]);
  useEffect(() => {
    threadRef.current?.lastElementChild?.scrollIntoView({ block: 'end' });
  }, [c.items.length]);
  const isEmail = c.info?.channel === 'email';
  const canReply = c.status === 'assigned' || c.status === 'helper';
  const reply = async (e?: Event) => {
    e?.preventDefault();
    const body = text.trim();
    if (!body) return;
    const ack = await send({ type: 'reply', conversationId: c.id, text: body, ...(isEmail && subject.trim() ? { subject: subject.trim() } : {}) });
    if (ack) {
      setText('');
      dispatch({ kind: 'items', id: c.id, items: [{ id: String(ack.outboundId), direction: 'out', text: body, ...(isEmail && subject ? { subject } : {}), at: new Date().toISOString(), conversationId: c.id, channel: c.info?.channel }] });
    }
  };
  return html`<section class="conversation" data-testid="conversation" data-conversation=${c.id} aria-label=${c.info?.customer?.name ?? c.id}>
    <header class="card"><${Facts} c=${c} /><${HandoffNotes} c=${c} /><${Suggestions} c=${c} onInsert=${canReply ? insert : undefined} /></header>
    ${c.status !== 'assigned' && html`<p class="collab">${t('conv.collab', { role: t(`conv.${c.status}`) })} <button onClick=${() => send({ type: 'leave', conversationId: c.id })}>${t('conv.leave')}</button></p>`}
    ${c.failures.length > 0 && html`<section class="card failures" aria-label=${t('conv.failures')}><h4>${t('conv.failures')}</h4><ul>${c.failures.map((f) => html`<li data-testid="failure">${f.callback ? t('conv.callback', { to: f.to }) : t('conv.failed', { to: f.to, reason: f.reason })}</li>`)}</ul></section>`}
    <h3>${t('conv.timeline')}</h3>
    ${loading && html`<p class="muted" aria-live="polite">${t('conv.loading')}</p>`}
    <ol class="thread" ref=${threadRef} data-testid="thread" aria-live="polite" tabIndex=${0} aria-label=${t('conv.timeline')}>
      ${c.items.map(
        (i) => html`<li key=${i.id} class=${`msg ${i.direction} ${i.earlier ? 'earlier' : ''}`} data-testid=${i.direction === 'event' ? 'event' : 'message'} data-id=${i.id}>
          <small>${new Date(i.at).toLocaleTimeString()}${i.channel ? ` · ${i.channel}` : ''}${i.earlier ? ` · ${t('conv.earlier')}` : ''}</small>
          ${i.subject && html`<b>${i.subject}</b>`}
          <p>${i.text}</p>
        </li>`,
      )}
    </ol>
    ${canReply && html`<form class="reply card" onSubmit=${reply}>
      ${isEmail && html`<label>${t('conv.subject')}<input data-testid="subject" value=${subject} onInput=${(e: Event) => setSubject((e.target as HTMLInputElement).value)} /></label>`}
      <label>${t('conv.reply')}<textarea ref=${replyRef} data-testid="reply" rows="3" aria-keyshortcuts="Alt+R" value=${text}
        onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown=${(e: KeyboardEvent) => (e.key === 'Escape' && shortcut !== null ? (setCannedOpen(false), setText(dropShortcut(text))) : e.key === 'Enter' && (e.ctrlKey || e.metaKey) && void reply(e))}></textarea></label>
      ${shortcut !== null && html`<${CannedReplies} c=${c} shortcut=${shortcut} onChoose=${chooseCanned} onClose=${() => (setCannedOpen(false), setText(dropShortcut(text)))} />`}
      <div class="actions">
        <button type="submit" class="primary" data-testid="send">${t('conv.send')}</button>
        <button type="button" data-testid="open-canned" aria-expanded=${shortcut !== null} onClick=${() => setCannedOpen(!cannedOpen)}>${t('kb.cannedButton')}</button>
        ${c.status === 'assigned' && html`<button type="button" data-testid="resolve" aria-keyshortcuts="Alt+D" onClick=${() => send({ type: 'resolve', conversationId: c.id })}>${t('conv.resolve')}</button>`}
      </div>
    </form>`}
    ${c.status === 'assigned' && html`<${MoveForms} c=${c} send=${send} />`}
  </section>`;
}

export default function AgentPage() {
  useLang();
  const [state, dispatch] = useReducer(reducer, undefined as never, loadState);
  const [status, setStatus] = useState<SocketStatus>('connecting');
  const [error, setError] = useState('');
  const stateRef = useRef(state);
  stateRef.current = state;
  const replyRef = useRef<HTMLTextAreaElement | null>(null);
  // conversations this console resolved (for "write an article from this case"); newest first, kept few
  const [resolved, setResolved] = useState<{ id: string; name: string; language?: string | null }[]>([]);
  const welcomed = useRef(state.lastSeq > 0);
  const reconnectOffline = useRef(false);
  useEffect(() => sessionStorage.setItem(STORE(), JSON.stringify(state)), [state]);

  const socket = useMemo(
    () =>
      new AgentSocket({
        token: accessToken,
        lastSeq: () => stateRef.current.lastSeq,
        // reconnect in the presence the agent had: away stays away; offline connects away and then
        // goes offline again (the connect query knows only online and away)
        presence: () => {
          const p = welcomed.current ? stateRef.current.presence : 'online';
          reconnectOffline.current = p === 'offline';
          return p === 'online' ? 'online' : 'away';
        },
        onFrame: (f) => {
          if (f.type === 'welcome') {
            welcomed.current = true;
            if (reconnectOffline.current) queueMicrotask(() => void socket.send({ type: 'presence', status: 'offline' }).catch(() => undefined));
          }
          if (f.type === 'error' && !f.ref) setError(t('error.generic', { message: f.message ?? f.code }));
          dispatch({ kind: 'frame', f });
        },
        onStatus: setStatus,
      }),
    [],
  );
  useEffect(() => {
    void socket.connect();
    return () => socket.stop();
  }, [socket]);

  const send: Send = async (cmd) => {
    setError('');
    try {
      const c = cmd.type === 'resolve' ? stateRef.current.conversations[String(cmd.conversationId)] : undefined;
      const ack = await socket.send(cmd);
      if (ack && c) setResolved((r) => [{ id: c.id, name: c.info?.customer?.name ?? c.id, language: c.info?.language ?? null }, ...r.filter((x) => x.id !== c.id)].slice(0, 3));
      return ack;
    } catch (err) {
      setError(t('error.generic', { message: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` }));
      return undefined;
    }
  };

  const offers = state.order.map((id) => state.conversations[id]!).filter((c) => c.status === 'offered');
  const mine = state.order.map((id) => state.conversations[id]!).filter((c) => c.status !== 'offered');
  const active = state.active ? state.conversations[state.active] : undefined;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey) return;
      const k = e.key.toLowerCase();
      if (k === 'a' && offers[0]) (e.preventDefault(), void send({ type: 'accept', conversationId: offers[0].id }));
      else if (k === 'r' && replyRef.current) (e.preventDefault(), replyRef.current.focus());
      else if (k === 'd' && active?.status === 'assigned') (e.preventDefault(), void send({ type: 'resolve', conversationId: active.id }));
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  const presenceValue = state.presence === 'away' ? `away:${state.awayReason ?? 'break'}` : state.presence;
  const setPresence = async (v: string) => {
    const [p, reason] = v.split(':') as ['online' | 'away' | 'offline', string | undefined];
    dispatch({ kind: 'away', reason: reason ?? null });
    // the reason is checked against the admins' list (GET /v1/presence-reasons; these ids are seeded)
    await send({ type: 'presence', status: p, ...(p === 'away' && reason ? { reason } : {}) });
  };
  const unread = totalUnread(state);
  useEffect(() => {
    document.title = `${unread ? `(${unread}) ` : ''}${t('nav.agent')} · ${t('app.title')}`;
  }, [unread]);

  return html`<${Shell} title=${t('nav.agent')}>
    <div class="agent">
      <aside class="side">
        <div class="card status">
          <label>${t('presence.label')}
            <select data-testid="presence" value=${presenceValue} onChange=${(e: Event) => void setPresence((e.target as HTMLSelectElement).value)}>
              <option value="online">${t('presence.online')}</option>
              ${AWAY_REASONS.map((r) => html`<option value=${`away:${r}`}>${t('presence.away')} — ${t(`away.${r}`)}</option>`)}
              <option value="offline">${t('presence.offline')}</option>
            </select>
          </label>
          <span class=${`conn ${status}`} data-testid="connection" role="status">${t(status === 'live' ? 'conn.live' : status === 'replaced' ? 'conn.replaced' : 'conn.reconnecting')}</span>
        </div>
        <section aria-label=${t('offers.title')}>
          <h2>${t('offers.title')} <span class="count">${offers.length}</span></h2>
          ${offers.length === 0 ? html`<p class="muted">${t('offers.none')}</p>` : offers.map((c, i) => html`<${OfferCard} key=${c.id} c=${c} send=${send} first=${i === 0} />`)}
        </section>
        <nav aria-label=${t('conv.title')}>
          <h2>${t('conv.title')}</h2>
          ${mine.length === 0 && html`<p class="muted">${t('conv.none')}</p>`}
          <ul class="convs">
            ${mine.map(
              (c) => html`<li key=${c.id}><button class=${c.id === state.active ? 'current' : ''} aria-current=${c.id === state.active ? 'true' : undefined} data-testid="conversation-tab" data-conversation=${c.id} onClick=${() => dispatch({ kind: 'select', id: c.id })}>
                <span>${c.info?.customer?.name ?? c.id}</span> <small>${c.info?.channel ?? ''} · T${c.info?.tier ?? '?'}</small>
                ${c.unread > 0 && html`<span class="badge" data-testid="unread" aria-label=${t('conv.unread', { n: c.unread })}>${c.unread}</span>`}
              </button></li>`,
            )}
          </ul>
        </nav>
        <p class="muted keys"><b>${t('keys.title')}:</b> ${t('keys.help')}</p>
      </aside>
      <div class="work">
        ${error && html`<p role="alert" class="error" data-testid="error">${error}</p>`}
        <ul class="notices" aria-live="polite">${state.notices.filter((n) => Date.now() - Date.parse(n.at) < 60_000).slice(-3).map((n) => html`<li key=${n.at + n.key}>${t(`notice.${n.key}`)}</li>`)}</ul>
        ${resolved.map((r) => html`<${ResolvedCase} key=${r.id} id=${r.id} name=${r.name} language=${r.language} onDismiss=${() => setResolved((all) => all.filter((x) => x.id !== r.id))} />`)}
        ${active ? html`<${ConversationView} key=${active.id} c=${active} send=${send} dispatch=${dispatch} replyRef=${replyRef} />` : html`<p class="muted">${t('conv.none')}</p>`}
      </div>
    </div>
  <//>`;
}
