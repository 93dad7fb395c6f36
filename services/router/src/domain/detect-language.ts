import { normalizeText, wordsOf } from './normalize-text';

// Function words are the cheapest reliable signal on short support messages: a handful of them
// tells Spanish from English from "something else" without a model. Lists are accent-stripped.
const STOPWORDS: Record<string, readonly string[]> = {
  es: ['el', 'la', 'los', 'las', 'de', 'del', 'que', 'y', 'en', 'un', 'una', 'por', 'para', 'con', 'no', 'mi', 'es', 'se', 'lo', 'al', 'como', 'pero', 'hola', 'gracias', 'puedo', 'tengo', 'esta', 'estoy', 'ayuda', 'cuenta', 'pedido', 'muy', 'porque', 'cuando', 'donde', 'buenos', 'dias', 'necesito', 'quiero', 'sin', 'ya', 'me', 'su', 'le', 'nos', 'hay'],
  en: ['the', 'and', 'is', 'are', 'to', 'of', 'in', 'it', 'my', 'i', 'you', 'for', 'on', 'with', 'this', 'that', 'can', 'not', 'cant', 'dont', 'have', 'has', 'was', 'be', 'an', 'a', 'hello', 'hi', 'please', 'thanks', 'help', 'account', 'order', 'what', 'how', 'why', 'when', 'where', 'need', 'want', 'get', 'do', 'does', 'me', 'your', 'from', 'at', 'we'],
  fr: ['le', 'les', 'des', 'est', 'et', 'je', 'ne', 'pas', 'une', 'pour', 'avec', 'mon', 'ma', 'mes', 'vous', 'bonjour', 'merci', 'suis', 'dans', 'sur', 'ce', 'qui', 'au', 'aux', 'mais', 'ou', 'nous', 'votre', 'commande', 'aide'],
  de: ['der', 'die', 'das', 'und', 'ist', 'ich', 'nicht', 'ein', 'eine', 'mit', 'mein', 'meine', 'sie', 'zu', 'den', 'dem', 'auf', 'fur', 'hallo', 'danke', 'bitte', 'kann', 'habe', 'wir', 'auch', 'es', 'bestellung', 'hilfe'],
  pt: ['o', 'os', 'as', 'do', 'da', 'dos', 'das', 'nao', 'um', 'uma', 'com', 'meu', 'minha', 'voce', 'ola', 'obrigado', 'obrigada', 'para', 'em', 'e', 'que', 'eu', 'tenho', 'conta', 'pedido', 'ajuda', 'posso'],
  it: ['il', 'lo', 'gli', 'della', 'che', 'non', 'sono', 'una', 'per', 'con', 'mio', 'mia', 'ciao', 'grazie', 'buongiorno', 'ho', 'e', 'di', 'ordine', 'aiuto', 'posso'],
};

const SCRIPTS: [RegExp, string][] = [
  [/[\u3040-\u30ff]/u, 'ja'],
  [/[\uac00-\ud7af]/u, 'ko'],
  [/[\u4e00-\u9fff]/u, 'zh'],
  [/[\u0400-\u04ff]/u, 'ru'],
  [/[\u0600-\u06ff]/u, 'ar'],
  [/[\u0590-\u05ff]/u, 'he'],
  [/[\u0e00-\u0e7f]/u, 'th'],
  [/[\u0370-\u03ff]/u, 'el'],
  [/[\u0900-\u097f]/u, 'hi'],
];

/**
 * Guesses the language of a message: a script check first (non-Latin scripts are decisive), then
 * function-word counts. Returns undefined when the text says too little to tell (a lone "ok"), so
 * callers fall back to their default rather than mislabel the customer.
 */
export function detectLanguage(text: string): string | undefined {
  const letters = text.replace(/[^\p{L}]/gu, '');
  if (letters.length === 0) return undefined;
  for (const [re, lang] of SCRIPTS) {
    const count = (text.match(new RegExp(re.source, 'gu')) ?? []).length;
    if (count / letters.length > 0.3) return lang;
  }
  // Spanish punctuation and ñ are strong signals on their own.
  let esBonus = /[¿¡ñÑ]/u.test(text) ? 2 : 0;
  if (/ción\b|ción\b/u.test(text)) esBonus += 1;
  const words = wordsOf(normalizeText(text));
  const scores: [string, number][] = Object.entries(STOPWORDS).map(([lang, list]) => [lang, words.filter((w) => list.includes(w)).length + (lang === 'es' ? esBonus : 0)]);
  scores.sort((a, b) => b[1] - a[1]);
  const [best, second] = scores;
  if (!best || best[1] === 0) return undefined;
  if (second && best[1] === second[1]) {
    // a tie between es/en and something else: keep the language we serve; otherwise unknown
    const served = scores.filter(([l, s]) => s === best[1] && (l === 'es' || l === 'en'));
    return served.length === 1 ? served[0]![0] : undefined;
  }
  return best[0];
}

/** "es-MX" → "es"; the envelope's language wins over detection when it is present. */
export function primaryLanguage(tag: string | undefined): string | undefined {
  if (!tag) return undefined;
  const p = tag.toLowerCase().split(/[-_]/)[0];
  return p && /^[a-z]{2,3}$/.test(p) ? p : undefined;
}
