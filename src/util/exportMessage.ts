/**
 * The `export` message a webview sends (a chart or table to save), checked on the host: the
 * webview renders data from untrusted files, so its messages are input, not instructions.
 * No VS Code import (unit-tested): every view's `export` command (src/protocol/) is checked with it.
 */
import { safeFileName } from './safeText';

export const EXPORT_FORMATS = ['svg', 'png', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The message: save `content` (text, or base64 for PNG) as `filename`. */
export interface ExportRequest {
  filename: string;
  format: ExportFormat;
  content: string;
}

/** The largest export accepted (characters of the message's content). */
export const MAX_EXPORT_CHARS = 64 << 20;

export interface CheckedExport {
  /** A bare file name ([A-Za-z0-9_.-], the format's extension), to be put in the checkpoint's folder. */
  filename: string;
  format: ExportFormat;
  bytes: Buffer;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The export the message asks for, or why it is refused (a problem to show, never thrown). */
export function checkExportMessage(m: unknown): CheckedExport | { problem: string } {
  if (typeof m !== 'object' || m === null) return { problem: 'not an object' };
  const { filename, format, content } = m as Record<string, unknown>;
  if (typeof format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(format)) {
    return { problem: `unknown export format (expected one of ${EXPORT_FORMATS.join(', ')})` };
  }
  if (typeof filename !== 'string' || filename.length === 0 || filename.length > 1000) return { problem: 'the file name must be a string of 1 to 1000 characters' };
  if (typeof content !== 'string') return { problem: 'the content must be a string' };
  if (content.length > MAX_EXPORT_CHARS) return { problem: `the content is larger than ${MAX_EXPORT_CHARS >> 20} MiB` };
  const fmt = format as ExportFormat;
  let bytes: Buffer;
  if (fmt === 'png') {
    const b64 = content.replace(/^data:image\/png;base64,/, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return { problem: 'the PNG content is not base64' };
    bytes = Buffer.from(b64, 'base64');
    if (bytes.length < PNG_MAGIC.length || PNG_MAGIC.some((v, i) => bytes[i] !== v)) return { problem: 'the content is not a PNG image' };
  } else {
    if (fmt === 'svg' && !/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/.test(content.slice(0, 4096))) return { problem: 'the content is not an SVG image' };
    bytes = Buffer.from(content, 'utf8');
  }
  return { filename: safeFileName(filename, fmt), format: fmt, bytes };
}
