/**
 * Lines that start the quoted history under a reply. Multi-line attributions ("On Mon, … <a@b>\n
 * wrote:") are matched after joining a line with the next one.
 */
const ATTRIBUTION = [
  /^On\s.+\swrote:\s*$/i, // Gmail, Apple Mail, Thunderbird (en)
  /^El\s.+\sescribi[óo]:\s*$/i, // es
  /^Le\s.+\sa\s[ée]crit\s?:\s*$/i, // fr
  /^Am\s.+\sschrieb\s.+:\s*$/i, // de
  /^Em\s.+\sescreveu:\s*$/i, // pt
  /^Il\s.+\sha\sscritto:\s*$/i, // it
];
const SEPARATOR = [
  /^-{2,}\s*(Original Message|Mensaje original|Message d'origine|Ursprüngliche Nachricht|Mensagem original)\s*-{2,}\s*$/i,
  /^_{10,}\s*$/, // Outlook's rule above the quoted header block
  /^-{2,}\s*Forwarded message\s*-{2,}\s*$/i,
];
// Outlook without separator: "From: …" directly followed by "Sent:/Date:" (or es "De:" + "Enviado:/Fecha:")
const OUTLOOK_FROM = /^\*?(From|De|Von):\*?\s.+/i;
const OUTLOOK_NEXT = /^\*?(Sent|Date|Enviado|Fecha|Gesendet|To|Para|An):\*?\s/i;

/**
 * The new part of a reply: everything above the first quoted-history marker, without ">"-quoted
 * lines (inline answers between quotes are kept). Returns the whole text when stripping would leave
 * nothing (a forward, or a message that is only a quote is better shown whole).
 */
export function stripQuotedHistory(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let cut = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const joined = i + 1 < lines.length ? `${line} ${lines[i + 1]!.trim()}` : line;
    if (ATTRIBUTION.some((re) => re.test(line))) {
      cut = i;
      break;
    }
    if (/^(On|El|Le|Am|Em|Il)\s/i.test(line) && ATTRIBUTION.some((re) => re.test(joined))) {
      cut = i;
      break;
    }
    if (SEPARATOR.some((re) => re.test(line))) {
      cut = i;
      break;
    }
    if (OUTLOOK_FROM.test(line) && OUTLOOK_NEXT.test(lines[i + 1]?.trim() ?? '')) {
      cut = i;
      break;
    }
  }
  const kept = lines.slice(0, cut).filter((l) => !/^\s*>/.test(l));
  const result = kept.join('\n').replace(/\s+$/, '').replace(/^\s*\n/, '');
  return result.trim() ? result : text.trim();
}
