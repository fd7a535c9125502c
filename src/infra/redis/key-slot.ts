/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  return crc;
}

/**
 * The Cluster slot (0–16383) of a key, as CLUSTER KEYSLOT answers: only the
 * hash tag (what lies between the first `{` and the next `}`) is hashed
 * when there is one and it is not empty. Called for every command of a
 * batch on a Cluster: ASCII text (every key the gateway builds, its parts
 * being URI-encoded) is hashed from its char codes, without a copy.
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16Of(key, open + 1, close) % 16384;
  }
  return crc16Of(key, 0, key.length) % 16384;
}

/** CRC16 of the UTF-8 bytes of `text` from `from` to `to` (char indexes; braces are ASCII, so they bound the same bytes). */
function crc16Of(text: string, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) {
      const bytes = Buffer.from(text.slice(from, to), 'utf8');
      return crc16(bytes, 0, bytes.length);
    }
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ code) & 0xff];
  }
  return crc;
}
