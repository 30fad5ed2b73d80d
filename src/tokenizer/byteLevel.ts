/**
 * GPT-2's reversible byte <-> printable character table. Byte-level BPE vocabularies are written in
 * these characters: a space byte is "Ġ" (U+0120), a newline "Ċ", the bytes of "é" are "Ã©".
 */

let byteToChar: readonly string[] | null = null;
let charToByte: ReadonlyMap<string, number> | null = null;

/**
 * byteChars[b] is the character standing for byte b: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes (controls, space, soft hyphen …) are moved to U+0100 onwards in byte order.
 */
export function bytesToUnicode(): readonly string[] {
  if (byteToChar) return byteToChar;
  const table = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 256 + shifted++);
  }
  byteToChar = table;
  return table;
}

/** The inverse table: byte-level character -> byte. */
export function unicodeToBytes(): ReadonlyMap<string, number> {
  if (charToByte) return charToByte;
  charToByte = new Map(bytesToUnicode().map((c, b) => [c, b]));
  return charToByte;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * The ByteLevel decoder: maps each token's characters back to bytes and decodes the whole as UTF-8
 * (invalid sequences, e.g. half of "é", become U+FFFD as in Rust's from_utf8_lossy). A token with a
 * character outside the table (an added token written in plain text) contributes its own UTF-8.
 */
export function byteLevelDecode(tokens: readonly string[]): string {
  const table = unicodeToBytes();
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  for (const token of tokens) {
    const mapped: number[] = [];
    let plain = false;
    for (const c of token) {
      const b = table.get(c);
      if (b === undefined) {
        plain = true;
        break;
      }
      mapped.push(b);
    }
    for (const b of plain ? encoder.encode(token) : mapped) bytes.push(b);
  }
  return utf8.decode(Uint8Array.from(bytes));
}
