import iconv from 'iconv-lite';
import { decodeAs, knownCharset, unknownCharsetsIn } from '../src/domain/charsets';

describe('charsets', () => {
  it.each([
    ['iso-8859-1', iconv.encode('año ñandú', 'iso-8859-1'), 'año ñandú'],
    ['"ISO-8859-1"', iconv.encode('¿qué?', 'iso-8859-1'), '¿qué?'],
    ['windows-1252', iconv.encode('49 € “ok”', 'windows-1252'), '49 € “ok”'],
    ['ISO-2022-JP', Buffer.concat([Buffer.from([0x1b, 0x24, 0x42]), Buffer.from('F|K\\8l', 'latin1'), Buffer.from([0x1b, 0x28, 0x42])]), '日本語'],
    ['utf-8', Buffer.from('Grüße 👍'), 'Grüße 👍'],
    ['koi8-r', iconv.encode('привет', 'koi8-r'), 'привет'],
    ['x-unknown', Buffer.from('best effort ñ'), 'best effort ñ'],
    [undefined, Buffer.from('no charset ñ'), 'no charset ñ'],
  ])('decodes %s as declared (unknown or missing: UTF-8)', (cs, bytes, text) => expect(decodeAs(bytes, cs)).toBe(text));

  it('knows iconv-lite charsets, the JIS family and UTF-8; not made-up names', () => {
    for (const cs of ['utf-8', 'UTF8', 'us-ascii', 'iso-2022-jp', 'windows-1252', 'gb2312', 'big5', 'shift_jis']) expect(knownCharset(cs)).toBe(true);
    for (const cs of ['x-klingon', 'utf-9', '']) expect(knownCharset(cs)).toBe(false);
  });

  it('names the unknown charsets of a raw message, in part headers and encoded words', () => {
    const raw = 'Subject: =?x-weird?Q?hola?=\r\nContent-Type: text/plain; charset="x-unknown-cs"\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n';
    expect(unknownCharsetsIn(raw).sort()).toEqual(['x-unknown-cs', 'x-weird']);
  });
});
