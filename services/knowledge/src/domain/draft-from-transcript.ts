/** What the knowledge service reads of history's transcript (GET /v1/conversations/:id). */
export interface Transcript {
  conversation: {
    id: string;
    status: string;
    category: string | null;
    agents: string[];
    escalations: { handoffNote: string | null; reason: string | null; toTier: number }[];
  };
  messages: { direction: 'inbound' | 'outbound'; text: string; at: string }[];
  events: { kind: string; payload: Record<string, unknown> }[];
}

export interface DraftArticle {
  title: string;
  body: string;
  category: string | null;
  language: string | null;
  tags: string[];
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
const cut = (s: string, n: number) => {
  const cps = [...s];
  return cps.length <= n ? s : `${cps.slice(0, n - 1).join('')}…`;
};
// Markdown in a customer's message must not become structure (headings, links, HTML) in the draft
const quote = (s: string) =>
  cut(s, 4000)
    .split(/\r?\n/)
    .map((l) => `> ${l.replace(/([\\`*_{}[\]()#+!<>|-])/g, '\\$1')}`)
    .join('\n');

/**
 * A draft article from a solved conversation: the customer's first messages are the question, the
 * handoff notes say what was tried, the agents' last replies are the answer. A supervisor edits and
 * publishes it; nothing here is published on its own.
 */
export function draftFromTranscript(t: Transcript): DraftArticle {
  const inbound = t.messages.filter((m) => m.direction === 'inbound' && m.text.trim());
  const outbound = t.messages.filter((m) => m.direction === 'outbound' && m.text.trim());
  const firstQuestion = inbound[0]?.text ?? '';
  const title = cut(oneLine(firstQuestion) || `Conversation ${t.conversation.id}`, 120);
  const question = inbound.slice(0, 3).map((m) => quote(m.text)).join('\n\n');
  const tried = t.conversation.escalations
    .map((e) => [e.handoffNote, e.reason].filter(Boolean).map((x) => oneLine(x!)).join(' — '))
    .filter(Boolean)
    .map((n) => `- ${n.replace(/([\\`*_{}[\]()#+!<>|])/g, '\\$1')}`)
    .join('\n');
  const answer = outbound.slice(-3).map((m) => quote(m.text)).join('\n\n');
  const language = t.events.map((e) => e.payload?.language).find((l): l is string => typeof l === 'string' && l.length > 0) ?? null;
  const body = [
    '## Question',
    question || '_(no customer message in the transcript)_',
    '## What was tried',
    tried || '_(no handoff notes)_',
    '## Answer',
    answer || '_(no agent reply in the transcript)_',
  ].join('\n\n');
  return { title, body, category: t.conversation.category, language, tags: t.conversation.category ? [t.conversation.category] : [] };
}
