/**
 * A minimal zip reader over a ByteSource, for PyTorch's zip checkpoints.
 *
 * torch.save (PyTorch >= 1.6) writes an uncompressed (STORED) zip whose entries are the pickle
 * (`<archive>/data.pkl`) and one entry per tensor storage (`<archive>/data/<key>`). We only need
 * the byte range of each entry: storages stay in the file and are read on demand, so this reader
 * parses the central directory and the local headers, and never inflates or copies entry data.
 *
 * Layout reminders (APPNOTE.TXT): the end-of-central-directory record (EOCD) sits at the end of
 * the file, followed by an optional comment of up to 65535 bytes; for archives over 4 GiB or
 * 65535 entries a zip64 EOCD record and its locator precede it, and oversized fields in the
 * central directory are set to 0xFFFFFFFF with the real values in a zip64 extra field.
 */
import { InputError } from '../util/errors';
import type { ByteSource } from './types';

export interface ZipEntry {
  name: string;
  /** Absolute offset of the entry's first data byte in the file (after its local header). */
  dataOffset: number;
  /** Stored byte size of the entry's data (equals the uncompressed size for STORED entries). */
  size: number;
  /** Compression method: 0 = STORED, 8 = DEFLATE, ... Only STORED entries can be read here. */
  method: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

const EOCD_SIZE = 22;
const EOCD64_LOCATOR_SIZE = 20;
const EOCD64_MIN_SIZE = 56;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;

export const METHOD_STORED = 0;

// Budgets: a zip's directory is read into memory and one object is kept per entry, so an archive
// past these is refused (an InputError naming the file and the limit) before anything is
// allocated per entry. torch.save writes one entry per storage plus four or five others: even
// large checkpoints (optimizer state included) have a few thousand.
/** Most entries a zip archive may have. */
export const MAX_ZIP_ENTRIES = 262_144;
/** Largest central directory read into memory, in bytes. */
export const MAX_ZIP_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** Longest entry name, in bytes (torch writes '<archive>/data/<key>'). */
export const MAX_ZIP_NAME_BYTES = 4096;

/** An entry name as shown in a message: control characters escaped, and cut when long. */
export function shownName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const escaped = name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `'${escaped.length > 160 ? `${escaped.slice(0, 160)}…` : escaped}'`;
}

const METHOD_NAMES: Record<number, string> = {
  0: 'STORED', 1: 'SHRUNK', 6: 'IMPLODED', 8: 'DEFLATE', 9: 'DEFLATE64', 12: 'BZIP2', 14: 'LZMA',
  93: 'ZSTD', 95: 'XZ', 99: 'AES-encrypted',
};

export function compressionMethodName(method: number): string {
  return METHOD_NAMES[method] ?? `method ${method}`;
}

/** True when the file starts like a zip archive (a local header, or the EOCD of an empty zip). */
export function looksLikeZip(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const sig = head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24);
  return sig >>> 0 === SIG_LOCAL || sig >>> 0 === SIG_EOCD;
}

/**
 * Reads the central directory and local headers of a zip archive.
 *
 * An archive that different readers could read differently is refused, naming the entries: two
 * entries with the same name (torch.load takes the last, a reader that stops at the first sees
 * another pickle), a local header whose name differs from its central directory record, and
 * entries whose bytes overlap each other or the central directory (one byte range under two names).
 */
export async function readZipEntries(source: ByteSource): Promise<ZipEntry[]> {
  const file = source.path;
  const { cdOffset, cdSize, entryCount, endOfArchive } = await findCentralDirectory(source);

  if (entryCount > MAX_ZIP_ENTRIES) {
    throw new InputError(file, `zip archive has ${entryCount} entries, over the limit of ${MAX_ZIP_ENTRIES} entries (MAX_ZIP_ENTRIES)`);
  }
  if (cdSize > MAX_ZIP_CENTRAL_DIRECTORY_BYTES) {
    throw new InputError(file, `zip central directory is ${cdSize} bytes, over the limit of ${MAX_ZIP_CENTRAL_DIRECTORY_BYTES} bytes (MAX_ZIP_CENTRAL_DIRECTORY_BYTES)`);
  }
  if (cdOffset + cdSize > source.size) {
    throw new InputError(file, `zip central directory (${cdSize} bytes at offset ${cdOffset}) extends past the end of the file (${source.size} bytes): the file is truncated`);
  }
  // Each central record is at least 46 bytes: a count that cannot fit is corrupt, and checking
  // it bounds the work below before anything is allocated per entry.
  if (entryCount * CENTRAL_HEADER_SIZE > cdSize) {
    throw new InputError(file, `zip end record claims ${entryCount} entries but the central directory has only ${cdSize} bytes`);
  }
  const cd = await source.read(cdOffset, cdSize);
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const utf8 = new TextDecoder('utf-8');

  interface Central { name: string; nameBytes: Uint8Array; method: number; flags: number; size: number; localOffset: number }
  const centrals: Central[] = [];
  const indexByName = new Map<string, number>();
  let p = 0;
  for (let i = 0; i < entryCount; i++) {
    if (p + CENTRAL_HEADER_SIZE > cd.length || view.getUint32(p, true) !== SIG_CENTRAL) {
      throw new InputError(file, `zip central directory entry ${i} at offset ${cdOffset + p} is malformed (bad signature or truncated)`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    let uncompressedSize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const end = p + CENTRAL_HEADER_SIZE + nameLen + extraLen + commentLen;
    if (end > cd.length) {
      throw new InputError(file, `zip central directory entry ${i} runs past the end of the central directory`);
    }
    if (nameLen > MAX_ZIP_NAME_BYTES) {
      throw new InputError(file, `zip central directory entry ${i} has a ${nameLen}-byte name, over the limit of ${MAX_ZIP_NAME_BYTES} bytes (MAX_ZIP_NAME_BYTES)`);
    }
    const nameBytes = cd.subarray(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLen);
    const name = utf8.decode(nameBytes);
    // torch.load (caffe2's miniz) finds a record by a binary search that ignores ASCII case, so
    // 'archive/DATA.pkl' is as much a second 'archive/data.pkl' as an exact copy is.
    const key = name.replace(/[A-Z]+/g, (c) => c.toLowerCase());
    const previous = indexByName.get(key);
    if (previous !== undefined) {
      const other = centrals[previous].name;
      const as = other === name ? '' : ` (as ${shownName(other)} and ${shownName(name)}: torch.load compares names without case)`;
      throw new InputError(file, `zip entry ${shownName(name)} appears twice (entries ${previous} and ${i})${as}: zip readers differ on which copy they use, so what torch.load runs may not be what is shown here; the archive is refused`);
    }
    indexByName.set(key, i);

    // zip64: fields that overflowed 32 bits are 0xFFFFFFFF here and follow, in this fixed
    // order and only if overflowed, in the zip64 extra field.
    const needU = uncompressedSize === 0xffffffff;
    const needC = compressedSize === 0xffffffff;
    const needO = localOffset === 0xffffffff;
    if (needU || needC || needO) {
      const extra = findExtraField(cd.subarray(p + CENTRAL_HEADER_SIZE + nameLen, p + CENTRAL_HEADER_SIZE + nameLen + extraLen), ZIP64_EXTRA_ID);
      if (!extra) throw new InputError(file, `zip entry ${shownName(name)} has 32-bit overflow markers but no zip64 extra field`);
      const ev = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
      let q = 0;
      const next = (what: string): number => {
        if (q + 8 > extra.length) throw new InputError(file, `zip entry ${shownName(name)}: zip64 extra field is too short for its ${what}`);
        const v = u64(ev, q, file, `zip entry ${shownName(name)} ${what}`);
        q += 8;
        return v;
      };
      if (needU) uncompressedSize = next('uncompressed size');
      if (needC) compressedSize = next('compressed size');
      if (needO) localOffset = next('local header offset');
    }
    if (method === METHOD_STORED && compressedSize !== uncompressedSize) {
      throw new InputError(file, `zip entry ${shownName(name)} is STORED but its compressed size (${compressedSize}) differs from its size (${uncompressedSize})`);
    }
    centrals.push({ name, nameBytes, method, flags, size: compressedSize, localOffset });
    p = end;
  }

  // The data starts after the local header, whose extra length may differ from the central
  // copy (torch pads the local extra field so that data is 64-byte aligned), so read each one.
  const entries = new Array<ZipEntry>(centrals.length);
  const BATCH = 64;
  for (let start = 0; start < centrals.length; start += BATCH) {
    const batch = centrals.slice(start, start + BATCH);
    const offsets = await Promise.all(batch.map((c) => localDataOffset(source, c.name, c.nameBytes, c.localOffset, cdOffset)));
    batch.forEach((c, k) => {
      if (c.flags & 1) throw new InputError(file, `zip entry ${shownName(c.name)} is encrypted`);
      const dataOffset = offsets[k];
      if (dataOffset + c.size > source.size) {
        throw new InputError(file, `zip entry ${shownName(c.name)} (${c.size} bytes at offset ${dataOffset}) extends past the end of the file (${source.size} bytes): the file is truncated`);
      }
      entries[start + k] = { name: c.name, dataOffset, size: c.size, method: c.method };
    });
  }
  checkNoOverlaps(file, centrals.map((c, i) => ({ name: c.name, start: c.localOffset, end: entries[i].dataOffset + entries[i].size })), cdOffset, endOfArchive);
  return entries;
}

/**
 * Each entry (local header and data) must own its bytes: no two entries may share any, and none
 * may reach into the central directory or the end records that follow it.
 */
function checkNoOverlaps(file: string, ranges: { name: string; start: number; end: number }[], cdOffset: number, endOfArchive: number): void {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    if (i > 0 && r.start < sorted[i - 1].end) {
      const q = sorted[i - 1];
      throw new InputError(file, `zip entries ${shownName(q.name)} (bytes ${q.start}-${q.end}) and ${shownName(r.name)} (bytes ${r.start}-${r.end}) overlap: one byte range read under two names, so the archive is refused`);
    }
    if (r.start < endOfArchive && r.end > cdOffset) {
      throw new InputError(file, `zip entry ${shownName(r.name)} (bytes ${r.start}-${r.end}) overlaps the central directory (bytes ${cdOffset}-${endOfArchive}), so the archive is refused`);
    }
  }
}

/** Throws unless the entry is STORED (the only method whose bytes can be used in place). */
export function requireStored(file: string, entry: ZipEntry): void {
  if (entry.method !== METHOD_STORED) {
    throw new InputError(file, `zip entry '${entry.name}' uses compression ${compressionMethodName(entry.method)}; only uncompressed (STORED) entries are supported, as written by torch.save`);
  }
}

/** Reads a whole (small) STORED entry into memory, refusing entries larger than maxBytes. */
export async function readStoredEntry(source: ByteSource, entry: ZipEntry, maxBytes: number): Promise<Uint8Array> {
  requireStored(source.path, entry);
  if (entry.size > maxBytes) {
    throw new InputError(source.path, `zip entry '${entry.name}' is ${entry.size} bytes, over the ${maxBytes}-byte limit for entries read into memory`);
  }
  return source.read(entry.dataOffset, entry.size);
}

interface CentralDirectoryLocation {
  cdOffset: number;
  cdSize: number;
  entryCount: number;
  /** End of the end-of-central-directory record (the directory and end records span cdOffset to here). */
  endOfArchive: number;
}

async function findCentralDirectory(source: ByteSource): Promise<CentralDirectoryLocation> {
  const file = source.path;
  if (source.size < EOCD_SIZE) {
    throw new InputError(file, `not a complete zip archive: ${source.size} bytes is too short for the end-of-central-directory record (the file is truncated)`);
  }
  // The EOCD is followed only by its comment, so it lies within the last 22 + 65535 bytes.
  const tailLen = Math.min(source.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = source.size - tailLen;
  const tail = await source.read(tailStart, tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  // Scan backwards; prefer a record whose comment length reaches exactly to the end of the file,
  // so a signature-like byte pattern inside a comment is not mistaken for the record.
  let fallback = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) !== SIG_EOCD) continue;
    const commentLen = tv.getUint16(i + 20, true);
    if (i + EOCD_SIZE + commentLen === tail.length) { eocd = i; break; }
    if (fallback < 0 && i + EOCD_SIZE + commentLen <= tail.length) fallback = i;
  }
  if (eocd < 0) eocd = fallback;
  if (eocd < 0) {
    throw new InputError(file, 'no zip end-of-central-directory record found: the zip archive is truncated or corrupt');
  }
  const diskNumber = tv.getUint16(eocd + 4, true);
  const cdDisk = tv.getUint16(eocd + 6, true);
  let entryCount = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  const eocdAbs = tailStart + eocd;

  // A zip64 locator immediately precedes the EOCD when the archive uses zip64 (PyTorch's writer
  // emits one whenever the archive is large); its record holds the full 64-bit values.
  let zip64 = false;
  if (eocdAbs >= EOCD64_LOCATOR_SIZE) {
    const loc = await source.read(eocdAbs - EOCD64_LOCATOR_SIZE, EOCD64_LOCATOR_SIZE);
    const lv = new DataView(loc.buffer, loc.byteOffset, loc.byteLength);
    if (lv.getUint32(0, true) === SIG_EOCD64_LOCATOR) {
      zip64 = true;
      const recOffset = u64(lv, 8, file, 'zip64 end record offset');
      if (recOffset + EOCD64_MIN_SIZE > eocdAbs - EOCD64_LOCATOR_SIZE) {
        throw new InputError(file, `zip64 end-of-central-directory locator points to offset ${recOffset}, outside the archive: the file is truncated or corrupt`);
      }
      const rec = await source.read(recOffset, EOCD64_MIN_SIZE);
      const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      if (rv.getUint32(0, true) !== SIG_EOCD64) {
        throw new InputError(file, `zip64 end-of-central-directory record at offset ${recOffset} has a bad signature`);
      }
      if (rv.getUint32(16, true) !== 0 || rv.getUint32(20, true) !== 0) {
        throw new InputError(file, 'multi-disk (split) zip archives are not supported');
      }
      entryCount = u64(rv, 32, file, 'zip64 entry count');
      cdSize = u64(rv, 40, file, 'zip64 central directory size');
      cdOffset = u64(rv, 48, file, 'zip64 central directory offset');
    }
  }
  if (!zip64) {
    if (diskNumber !== 0 || cdDisk !== 0) throw new InputError(file, 'multi-disk (split) zip archives are not supported');
    if (entryCount === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw new InputError(file, 'zip end record says the archive is zip64 but the zip64 locator is missing (the file is truncated or corrupt)');
    }
  }
  return { cdOffset, cdSize, entryCount, endOfArchive: eocdAbs + EOCD_SIZE };
}

async function localDataOffset(source: ByteSource, name: string, nameBytes: Uint8Array, localOffset: number, cdOffset: number): Promise<number> {
  const file = source.path;
  if (localOffset + LOCAL_HEADER_SIZE + nameBytes.length > source.size) {
    throw new InputError(file, `zip entry ${shownName(name)}: local header at offset ${localOffset} is past the end of the file (${source.size} bytes): the file is truncated`);
  }
  const h = await source.read(localOffset, LOCAL_HEADER_SIZE + nameBytes.length);
  const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  if (hv.getUint32(0, true) !== SIG_LOCAL) {
    throw new InputError(file, `zip entry ${shownName(name)}: no local header signature at offset ${localOffset} (corrupt archive)`);
  }
  const localNameLen = hv.getUint16(26, true);
  const localName = h.subarray(LOCAL_HEADER_SIZE, LOCAL_HEADER_SIZE + Math.min(localNameLen, nameBytes.length));
  let same = localNameLen === nameBytes.length;
  for (let i = 0; same && i < nameBytes.length; i++) same = localName[i] === nameBytes[i];
  if (!same) {
    let shown = '';
    if (localNameLen <= MAX_ZIP_NAME_BYTES && localOffset + LOCAL_HEADER_SIZE + localNameLen <= Math.min(source.size, cdOffset)) {
      const full = localNameLen <= nameBytes.length ? localName : await source.read(localOffset + LOCAL_HEADER_SIZE, localNameLen);
      shown = ` ${shownName(new TextDecoder('utf-8').decode(full))}`;
    } else {
      shown = ` a ${localNameLen}-byte name`;
    }
    throw new InputError(file, `zip entry ${shownName(name)}: its local header (offset ${localOffset}) names it${shown}; the central directory and the local headers disagree, so the archive is refused`);
  }
  return localOffset + LOCAL_HEADER_SIZE + localNameLen + hv.getUint16(28, true);
}

/** Finds the payload of extra-field block `id` in a zip extra-field area. */
function findExtraField(extra: Uint8Array, id: number): Uint8Array | undefined {
  const v = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  let p = 0;
  while (p + 4 <= extra.length) {
    const tag = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    if (p + 4 + len > extra.length) return undefined;
    if (tag === id) return extra.subarray(p + 4, p + 4 + len);
    p += 4 + len;
  }
  return undefined;
}

function u64(v: DataView, offset: number, file: string, what: string): number {
  const big = v.getBigUint64(offset, true);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(file, `${what} (${big}) is absurdly large: corrupt archive`);
  return Number(big);
}
