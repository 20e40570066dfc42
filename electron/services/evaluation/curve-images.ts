// ROC and precision-recall curves as PNG files for reports: an SVG string rasterised by sharp
// (librsvg), so no canvas or browser is needed in the main process or in CI.
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { MetricsInputError, type PrPoint, type RocPoint } from './metrics';

export interface CurveImageOptions {
  /** Where to write the PNG (written via a temporary file and rename). Omit to get the bytes only. */
  file?: string;
  width?: number;
  height?: number;
  /** First part of the title, e.g. "Test split, leave-out gan-i2i". */
  title?: string;
}

export interface RocImageOptions extends CurveImageOptions {
  /** Shown in the title; null or omitted shows "n/a". */
  auc?: number | null;
}

export interface PrImageOptions extends CurveImageOptions {
  ap?: number | null;
  /** Fraction of synthetic images: the precision of a chance detector, drawn as a dashed line. */
  positiveRate?: number;
}

export interface RenderedCurve {
  png: Buffer;
  width: number;
  height: number;
  file?: string;
}

interface PlotFrame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotWidth: number;
  plotHeight: number;
}

const CURVE_COLOUR = '#1f5fbf';
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

function frameFor(options: CurveImageOptions): PlotFrame {
  const width = options.width ?? 640;
  const height = options.height ?? 560;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 200 || v > 4000) {
      throw new MetricsInputError('BAD_OPTIONS', `Curve image ${name} must be an integer from 200 to 4000, got ${v}`);
    }
  }
  const left = 70;
  const top = 50;
  return { width, height, left, top, plotWidth: width - left - 25, plotHeight: height - top - 65 };
}

const px = (f: PlotFrame, x: number) => (f.left + x * f.plotWidth).toFixed(2);
const py = (f: PlotFrame, y: number) => (f.top + (1 - y) * f.plotHeight).toFixed(2);

function axesSvg(f: PlotFrame, title: string, xLabel: string, yLabel: string): string {
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    parts.push(
      `<line x1="${px(f, v)}" y1="${py(f, 0)}" x2="${px(f, v)}" y2="${py(f, 1)}" stroke="#e2e2e2" stroke-width="1"/>`,
      `<line x1="${px(f, 0)}" y1="${py(f, v)}" x2="${px(f, 1)}" y2="${py(f, v)}" stroke="#e2e2e2" stroke-width="1"/>`,
      `<text x="${px(f, v)}" y="${(f.top + f.plotHeight + 18).toFixed(2)}" font-size="12" text-anchor="middle">${v.toFixed(1)}</text>`,
      `<text x="${(f.left - 8).toFixed(2)}" y="${(Number(py(f, v)) + 4).toFixed(2)}" font-size="12" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<rect x="${f.left}" y="${f.top}" width="${f.plotWidth}" height="${f.plotHeight}" fill="none" stroke="#333" stroke-width="1.5"/>`,
    `<text x="${(f.width / 2).toFixed(2)}" y="30" font-size="16" font-weight="bold" text-anchor="middle">${escapeXml(title)}</text>`,
    `<text x="${(f.left + f.plotWidth / 2).toFixed(2)}" y="${(f.height - 18).toFixed(2)}" font-size="13" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="20" y="${(f.top + f.plotHeight / 2).toFixed(2)}" font-size="13" text-anchor="middle" transform="rotate(-90 20 ${(f.top + f.plotHeight / 2).toFixed(2)})">${escapeXml(yLabel)}</text>`,
  );
  return parts.join('\n');
}

function wrapSvg(f: PlotFrame, body: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" font-family="${FONT}" fill="#111">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    body,
    '</svg>',
  ].join('\n');
}

function checkUnitPoints(points: ReadonlyArray<{ x: number; y: number }>, what: string): void {
  if (points.length < 2) throw new MetricsInputError('EMPTY', `A ${what} needs at least two points`);
  for (const [i, p] of points.entries()) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y) || p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1) {
      throw new MetricsInputError('BAD_SCORE', `${what} point ${i} (${p.x}, ${p.y}) is outside [0, 1]`);
    }
  }
}

const formatMetric = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : 'n/a');

/** The ROC curve as SVG text (straight segments between points, as the trapezoid AUC). */
export function buildRocSvg(points: readonly RocPoint[], options: RocImageOptions = {}): string {
  const xy = points.map((p) => ({ x: p.fpr, y: p.tpr }));
  checkUnitPoints(xy, 'ROC curve');
  const f = frameFor(options);
  const title = `${options.title ? `${options.title}: ` : ''}ROC, AUC = ${formatMetric(options.auc)}`;
  const path = xy.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(f, p.x)},${py(f, p.y)}`).join(' ');
  const body = [
    axesSvg(f, title, 'False positive rate (real flagged as synthetic)', 'True positive rate (synthetic detected)'),
    `<line x1="${px(f, 0)}" y1="${py(f, 0)}" x2="${px(f, 1)}" y2="${py(f, 1)}" stroke="#999" stroke-width="1.5" stroke-dasharray="6 5"/>`,
    `<path d="${path}" fill="none" stroke="${CURVE_COLOUR}" stroke-width="2.5" stroke-linejoin="round"/>`,
  ].join('\n');
  return wrapSvg(f, body);
}

/** The precision-recall curve as SVG text, drawn as steps (the shape step-wise AP integrates). */
export function buildPrSvg(points: readonly PrPoint[], options: PrImageOptions = {}): string {
  checkUnitPoints(points.map((p) => ({ x: p.recall, y: p.precision })), 'precision-recall curve');
  // Of points with equal recall only the highest-threshold one (last in the run) counts towards AP;
  // the others are false-positive dips that would draw as spikes.
  const xy = points
    .filter((p, i) => i === points.length - 1 || points[i + 1].recall !== p.recall)
    .map((p) => ({ x: p.recall, y: p.precision }));
  const f = frameFor(options);
  const title = `${options.title ? `${options.title}: ` : ''}Precision-recall, AP = ${formatMetric(options.ap)}`;
  // Points come in sklearn's order (recall falling); precision P_k holds from R_k back to R_{k-1}.
  const segments: string[] = [`M${px(f, xy[0].x)},${py(f, xy[0].y)}`];
  for (let i = 1; i < xy.length; i++) {
    segments.push(`L${px(f, xy[i].x)},${py(f, xy[i - 1].y)}`, `L${px(f, xy[i].x)},${py(f, xy[i].y)}`);
  }
  const baseline =
    options.positiveRate !== undefined && options.positiveRate >= 0 && options.positiveRate <= 1
      ? `<line x1="${px(f, 0)}" y1="${py(f, options.positiveRate)}" x2="${px(f, 1)}" y2="${py(f, options.positiveRate)}" stroke="#999" stroke-width="1.5" stroke-dasharray="6 5"/>`
      : '';
  const body = [
    axesSvg(f, title, 'Recall (synthetic detected)', 'Precision (flagged images that are synthetic)'),
    baseline,
    `<path d="${segments.join(' ')}" fill="none" stroke="${CURVE_COLOUR}" stroke-width="2.5" stroke-linejoin="round"/>`,
  ].join('\n');
  return wrapSvg(f, body);
}

async function rasterise(svg: string, options: CurveImageOptions): Promise<RenderedCurve> {
  const png = await sharp(Buffer.from(svg, 'utf8'), { density: 72 }).png().toBuffer();
  const meta = await sharp(png).metadata();
  const result: RenderedCurve = { png, width: meta.width ?? 0, height: meta.height ?? 0 };
  if (options.file) {
    await fs.mkdir(path.dirname(options.file), { recursive: true });
    const temp = `${options.file}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(temp, png);
    await fs.rename(temp, options.file);
    result.file = options.file;
  }
  return result;
}

export async function renderRocCurvePng(points: readonly RocPoint[], options: RocImageOptions = {}): Promise<RenderedCurve> {
  return rasterise(buildRocSvg(points, options), options);
}

export async function renderPrCurvePng(points: readonly PrPoint[], options: PrImageOptions = {}): Promise<RenderedCurve> {
  return rasterise(buildPrSvg(points, options), options);
}
