// Draws the extension icon (media/icon.png, 256 x 256 RGBA) with no dependencies: a dark rounded
// square, a lens ring, and two unit vectors spanning a shaded plane (a point of Gr(2, n)), each
// pixel 4 x 4 supersampled. Run: node scripts/make-icon.mjs. Not packaged (.vscodeignore).
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SIZE = 256;
const SS = 4;
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'media', 'icon.png');

const bg = [0x1e, 0x2a, 0x44];
const ring = [0x8f, 0xd3, 0xff];
const plane = [0xf1, 0x8c, 0x4c];
const vecA = [0xff, 0xd1, 0x66];
const vecB = [0x6e, 0xe7, 0xb7];

function segDist(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function inRoundedSquare(x, y) {
  const r = 48, m = 8;
  const cx = Math.min(Math.max(x, m + r), SIZE - m - r), cy = Math.min(Math.max(y, m + r), SIZE - m - r);
  return Math.hypot(x - cx, y - cy) <= r;
}

// The plane: the parallelogram spanned by a and b from the origin o.
const o = [84, 176];
const a = [96, -20];
const b = [28, -96];
function inPlane(x, y) {
  const px = x - o[0], py = y - o[1];
  const det = a[0] * b[1] - a[1] * b[0];
  const s = (px * b[1] - py * b[0]) / det, t = (a[0] * py - a[1] * px) / det;
  return s >= 0 && s <= 1 && t >= 0 && t <= 1;
}

/** The colour at a sample point: [r, g, b, alpha] in 0..1 (painter's order). */
function sample(x, y) {
  if (!inRoundedSquare(x, y)) return [0, 0, 0, 0];
  let c = bg.map((v) => v / 255);
  const blend = (col, alpha) => { c = c.map((v, i) => v * (1 - alpha) + (col[i] / 255) * alpha); };
  const d = Math.hypot(x - 128, y - 128);
  if (d < 92) blend(ring, 0.08);
  if (Math.abs(d - 92) < 7) blend(ring, 1);
  if (inPlane(x, y)) blend(plane, 0.55);
  if (segDist(x, y, o[0], o[1], o[0] + a[0] + b[0], o[1] + a[1] + b[1]) < 2) blend(plane, 0.9);
  if (segDist(x, y, o[0], o[1], o[0] + a[0], o[1] + a[1]) < 6) blend(vecA, 1);
  if (segDist(x, y, o[0], o[1], o[0] + b[0], o[1] + b[1]) < 6) blend(vecB, 1);
  if (Math.hypot(x - o[0], y - o[1]) < 10) blend([255, 255, 255], 1);
  return [...c, 1];
}

const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) {
  raw[y * (SIZE * 4 + 1)] = 0; // filter: none
  for (let x = 0; x < SIZE; x++) {
    const acc = [0, 0, 0, 0];
    for (let j = 0; j < SS; j++) {
      for (let i = 0; i < SS; i++) {
        const s = sample(x + (i + 0.5) / SS, y + (j + 0.5) / SS);
        for (let k = 0; k < 3; k++) acc[k] += s[k] * s[3];
        acc[3] += s[3];
      }
    }
    const n = SS * SS;
    const alpha = acc[3] / n;
    const at = y * (SIZE * 4 + 1) + 1 + x * 4;
    for (let k = 0; k < 3; k++) raw[at + k] = Math.round(alpha > 0 ? (acc[k] / acc[3]) * 255 : 0);
    raw[at + 3] = Math.round(alpha * 255);
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // RGBA
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
writeFileSync(out, png);
console.log(`wrote ${out} (${png.length} bytes, ${SIZE} x ${SIZE})`);
