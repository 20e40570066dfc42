// Poppler's pdftotext and pdftoppm (Debian poppler-utils): a report is checked by parsing and rendering it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

/** The text of a PDF, with bidi control marks (which pdftotext adds around right-to-left runs) removed. */
export function pdfText(file: string, options: { layout?: boolean } = {}): string {
  const out = execFileSync('pdftotext', [...(options.layout ? ['-layout'] : []), '-enc', 'UTF-8', file, '-'], { maxBuffer: 256 << 20 });
  return out.toString('utf8').replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
}

export function pdfPageCount(file: string): number {
  const info = execFileSync('pdfinfo', [file]).toString('utf8');
  return Number(/^Pages:\s+(\d+)/m.exec(info)![1]);
}

/** Renders pages to PNG files (1-based first/last) and returns their paths in page order. */
export function renderPages(file: string, dpi: number, first?: number, last?: number): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdf-pages-'));
  const range = first ? ['-f', String(first), '-l', String(last ?? first)] : [];
  execFileSync('pdftoppm', ['-r', String(dpi), '-png', ...range, file, path.join(dir, 'page')]);
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.png'))
    .sort((a, b) => Number(/(\d+)\.png$/.exec(a)![1]) - Number(/(\d+)\.png$/.exec(b)![1]))
    .map((n) => path.join(dir, n));
}

/** Mean and standard deviation of the luminance of a rectangle given in PDF points (origin top-left). */
export async function regionStats(png: string, dpi: number, rect: { x: number; y: number; width: number; height: number }): Promise<{ mean: number; stdev: number }> {
  const scale = dpi / 72;
  const meta = await sharp(png).metadata();
  const left = Math.max(0, Math.round(rect.x * scale) + 1);
  const top = Math.max(0, Math.round(rect.y * scale) + 1);
  const width = Math.min(meta.width! - left, Math.round(rect.width * scale) - 2);
  const height = Math.min(meta.height! - top, Math.round(rect.height * scale) - 2);
  // Computed here on the cropped pixels: sharp's stats() describes the whole input, not the crop.
  const px = await sharp(png).extract({ left, top, width, height }).greyscale().raw().toBuffer();
  let sum = 0;
  let sq = 0;
  for (const v of px) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / px.length;
  return { mean, stdev: Math.sqrt(Math.max(0, sq / px.length - mean * mean)) };
}
