// How a token's bytes are shown: text as it is, a space as `␣`, newline, tab and carriage return as `\n` `\t`
// `\r`, other control characters and bytes that are not whole UTF-8 characters as `<0xE2>` (the same rules as
// the core's `token_display`, so tokens look alike everywhere).

function escapeChar(codePoint: number): string {
  if (codePoint === 0x20) return '␣';
  if (codePoint === 0x0a) return '\\n';
  if (codePoint === 0x09) return '\\t';
  if (codePoint === 0x0d) return '\\r';
  if (codePoint < 0x20 || codePoint === 0x7f) return `<0x${codePoint.toString(16).toUpperCase().padStart(2, '0')}>`;
  return String.fromCodePoint(codePoint);
}

function byteEscape(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The readable form of a byte string (a BPE token). */
export function displayBytes(bytes: ArrayLike<number>): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i];
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    let valid = length > 0 && i + length <= bytes.length;
    for (let k = 1; valid && k < length; k++) valid = (bytes[i + k] & 0xc0) === 0x80;
    if (!valid) {
      out += byteEscape(lead);
      i += 1;
      continue;
    }
    let codePoint = length === 1 ? lead : lead & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) codePoint = (codePoint << 6) | (bytes[i + k] & 0x3f);
    // Overlong forms and surrogates are not characters: show their bytes.
    const overlong = (length === 3 && codePoint < 0x800) || (length === 4 && codePoint < 0x10000);
    if (overlong || (codePoint >= 0xd800 && codePoint < 0xe000) || codePoint > 0x10ffff) {
      out += byteEscape(lead);
      i += 1;
      continue;
    }
    out += escapeChar(codePoint);
    i += length;
  }
  return out;
}

export function hexBytes(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The readable form of a text (a char token, or decoded text). */
export function displayText(text: string): string {
  let out = '';
  for (const ch of text) out += escapeChar(ch.codePointAt(0) ?? 0);
  return out;
}
