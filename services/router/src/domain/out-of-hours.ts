/**
 * The automatic answers the customer gets about waiting, in their language (Spanish and English;
 * English for any other), pure: outside business hours (when the team is back, in the team's
 * time zone) and the async-channel wait notices of wait-estimate.ts. The router sends them through
 * the normal outbound path like an agent reply, so every channel adapter and its delivery receipts
 * apply unchanged.
 */

export type NoticeLanguage = 'es' | 'en';
export const noticeLanguage = (language: string | null | undefined): NoticeLanguage => (language === 'es' ? 'es' : 'en');

const LOCALE: Record<NoticeLanguage, string> = { es: 'es-ES', en: 'en-GB' };

/** "lunes, 28 de diciembre, 9:00 (Europe/Madrid)" / "Monday 28 December, 09:00 (Europe/Madrid)". */
export function formatOpening(at: Date, timeZone: string, lang: NoticeLanguage): string {
  const s = new Intl.DateTimeFormat(LOCALE[lang], { timeZone, weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' }).format(at);
  return `${s} (${timeZone})`;
}

/** Minutes, rounded up, as words people read ("about 12 minutes", "more than 2 hours"). */
export function formatWait(ms: number, lang: NoticeLanguage): string {
  const min = Math.max(1, Math.ceil(ms / 60_000));
  if (min === 1) return lang === 'es' ? 'un minuto' : 'about a minute';
  if (min < 120) return lang === 'es' ? `unos ${min} minutos` : `about ${min} minutes`;
  const h = Math.floor(min / 60);
  return lang === 'es' ? `más de ${h} horas` : `more than ${h} hours`;
}

export function outOfHoursText(nextOpening: Date | null, timeZone: string, lang: NoticeLanguage): string {
  if (!nextOpening)
    return lang === 'es'
      ? 'Hemos recibido tu mensaje. Nuestro equipo no está disponible ahora; te responderemos en cuanto vuelva.'
      : 'We have received your message. Our team is not available right now; we will answer as soon as it is back.';
  const when = formatOpening(nextOpening, timeZone, lang);
  return lang === 'es'
    ? `Hemos recibido tu mensaje. Nuestro equipo está fuera de horario y vuelve el ${when}; te responderemos entonces, por orden de llegada.`
    : `We have received your message. Our team is outside business hours and back on ${when}; we will answer then, in order of arrival.`;
}

export function waitNoticeText(kind: 'over-threshold' | 'grown', estimateMs: number, lang: NoticeLanguage): string {
  const wait = formatWait(estimateMs, lang);
  if (kind === 'over-threshold')
    return lang === 'es'
      ? `Gracias por tu paciencia: todos nuestros agentes están ocupados. El tiempo de espera estimado es de ${wait}. No hace falta que vuelvas a escribir.`
      : `Thanks for your patience: all our agents are busy. The estimated wait is ${wait}. There is no need to write again.`;
  return lang === 'es'
    ? `Lo sentimos: la espera se está alargando; ahora estimamos ${wait}. Mantendremos tu lugar en la cola.`
    : `Sorry: the wait is getting longer; we now expect ${wait}. You keep your place in the queue.`;
}
