import { stripQuotedHistory } from '../src/domain/quote-strip';

describe('quoted history stripping', () => {
  it.each([
    ['Gmail (en)', 'Thanks, it works now.\n\nOn Mon, Jan 12, 2026 at 10:00 AM Support <support@example.com> wrote:\n> Please restart the router.\n> Regards', 'Thanks, it works now.'],
    ['Gmail attribution wrapped over two lines', 'Still broken.\n\nOn Mon, Jan 12, 2026 at 10:00 AM Support Team <\nsupport@example.com> wrote:\n\n> Try again', 'Still broken.'],
    ['Gmail (es)', 'Sigue sin funcionar.\n\nEl lun, 12 ene 2026 a las 10:00, Soporte (<soporte@example.com>) escribió:\n> Reinicie el router', 'Sigue sin funcionar.'],
    ['French', 'Merci.\n\nLe lun. 12 janv. 2026 à 10:00, Support <s@example.com> a écrit :\n> Bonjour', 'Merci.'],
    ['Outlook separator', 'See attached.\r\n\r\n-----Original Message-----\r\nFrom: Support\r\nSent: Monday\r\nSubject: Re: order', 'See attached.'],
    ['Outlook header block without separator', 'Ok.\n\nFrom: Support <s@example.com>\nSent: Monday, January 12, 2026 10:00\nTo: me\n\nold text', 'Ok.'],
    ['Spanish Outlook', 'Vale.\n\nDe: Soporte <s@example.com>\nEnviado: lunes\n\nantiguo', 'Vale.'],
    ['inline answers between > quotes are kept', '> Which model?\nThe X200.\n> Which firmware?\n2.1', 'The X200.\n2.1'],
    ['no quote at all', 'Hello,\nmy order 4471 did not arrive.', 'Hello,\nmy order 4471 did not arrive.'],
    ['only a quote: keep it whole', '> just the quote', '> just the quote'],
  ])('%s', (_what, input, expected) => expect(stripQuotedHistory(input)).toBe(expected));
});
