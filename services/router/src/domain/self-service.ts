import { Type, type Static } from '@sinclair/typebox';
import { truncateCodePoints } from '@omni/contracts';
import { isVip } from './classify';
import type { Conversation } from './conversation';
import { noticeLanguage, type NoticeLanguage } from './out-of-hours';

/**
 * Self-service before a human (tier 0), pure: which new conversations get the automatic answer, its
 * text in the customer's language, and how the customer's reply is read. The lifecycle
 * (lifecycle.ts) owns the state; docs/knowledge.md describes the whole flow.
 */

/** The sender of the automatic answer on omni.outbound.v1 (history does not count `system:` senders as a first response). */
export const SELF_SERVICE_SENDER = 'system:self-service';
/** At most this many articles in one answer. */
export const SELF_SERVICE_MAX_ARTICLES = 2;

/** Categories admins enable and how long the router waits for an answer; stored with each rule-set version. */
export const SelfServiceSetting = Type.Object(
  {
    categories: Type.Array(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }), { maxItems: 200 }),
    /** no answer within this → routed as usual (its waiting time still counts from the first message) */
    waitMs: Type.Integer({ minimum: 1_000, maximum: 86_400_000 }),
  },
  { $id: 'SelfServiceSetting', additionalProperties: false },
);
export type SelfServiceSetting = Static<typeof SelfServiceSetting>;

/** A tier-0 article as the answer shows it (from the knowledge service's suggestions). */
export interface SelfServiceArticle {
  id: string;
  title: string;
  link: string;
}

/**
 * The articles a new conversation is answered with: none (route it as usual) unless its category is
 * enabled, the customer is not a VIP and knowledge found tier-0 articles.
 */
export function selfServiceArticles(
  setting: SelfServiceSetting | null | undefined,
  c: Pick<Conversation, 'category' | 'customerAttributes'>,
  articles: readonly SelfServiceArticle[],
): SelfServiceArticle[] {
  if (!setting || !setting.categories.includes(c.category) || isVip(c.customerAttributes)) return [];
  return articles.slice(0, SELF_SERVICE_MAX_ARTICLES);
}

export type SelfServiceAnswer = 'yes' | 'no' | 'other';

const fold = (s: string) =>
  s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
const YES = new Set(['si', 'yes', 'si gracias', 'si muchas gracias', 'yes thanks', 'yes thank you']);

/**
 * The customer's reply to "did this solve it?": the first non-empty line (an email reply quotes the
 * question below it), accents, case, punctuation and emoji ignored. YES: "SÍ", "si", "Yes", "sí,
 * gracias", "yes thanks". NO: a line starting with "no". Anything else is another message (routed
 * like a NO): a YES must be unmistakable, since it closes the case without an agent.
 */
export function parseSelfServiceReply(text: string): SelfServiceAnswer {
  const first = text.slice(0, 1_000).split(/\r\n|\r|\n/).find((l) => l.trim().length > 0) ?? '';
  const words = fold(first);
  if (YES.has(words)) return 'yes';
  if (words === 'no' || words.startsWith('no ')) return 'no';
  return 'other';
}

/** The labels of the chat buttons (the click comes back as a message with the label as its text). */
export function selfServiceChoices(lang: NoticeLanguage): { value: 'yes' | 'no'; label: string }[] {
  return lang === 'es'
    ? [
        { value: 'yes', label: 'Sí' },
        { value: 'no', label: 'No' },
      ]
    : [
        { value: 'yes', label: 'Yes' },
        { value: 'no', label: 'No' },
      ];
}

/** The automatic answer: the articles and the question, with the reply it expects, in Spanish or English. */
export function selfServiceText(language: string | null, articles: readonly SelfServiceArticle[]): string {
  const lang = noticeLanguage(language);
  const list = articles.map((a) => `• ${truncateCodePoints(a.title, 200)}: ${truncateCodePoints(a.link, 500)}`).join('\n');
  return lang === 'es'
    ? `Hola. Mientras te atiende una persona, esto puede resolverlo ahora:\n${list}\n\n¿Esto resolvió tu consulta? Responde SÍ o NO. Si no, te atenderá un agente sin perder tu turno.`
    : `Hello. While a person gets to you, this may solve it right away:\n${list}\n\nDid this solve it? Reply YES or NO. If not, an agent will help you and you keep your place in the queue.`;
}

