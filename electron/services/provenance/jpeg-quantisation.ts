// What the quantisation tables say: the IJG (libjpeg) quality they correspond to and whether they
// are exactly libjpeg's scaled tables, as most software encoders write, or something else, as
// cameras and some apps do. A hint about the last encoder, never proof of origin.
import type { QuantTable } from './jpeg-structure';

// ITU-T T.81 Annex K tables in natural order, which libjpeg scales by quality.
const IJG_LUMINANCE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
  37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const IJG_CHROMINANCE = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** libjpeg's jpeg_quality_scaling + jpeg_add_quant_table with force_baseline. */
export function ijgTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return base.map((b) => Math.min(255, Math.max(1, Math.floor((b * scale + 50) / 100))));
}

export interface QuantisationEstimate {
  tables: { id: number; precision: number; offset: number; values: number[]; nearestIjgQuality: number; exactIjg: boolean }[];
  /** Quality of the luminance table (table 0) on libjpeg's scale. */
  estimatedQuality: number | null;
  /** Every table is exactly libjpeg's table at one quality. */
  standardIjg: boolean;
  interpretation: string;
}

function nearestQuality(values: readonly number[], base: readonly number[]): { quality: number; exact: boolean } {
  let best = { quality: 50, err: Infinity };
  for (let q = 1; q <= 100; q++) {
    const t = ijgTable(base, q);
    let err = 0;
    for (let i = 0; i < 64; i++) err += Math.abs(t[i] - values[i]);
    if (err < best.err) best = { quality: q, err };
  }
  return { quality: best.quality, exact: best.err === 0 };
}

export function estimateJpegQuality(tables: readonly QuantTable[]): QuantisationEstimate | null {
  if (tables.length === 0) return null;
  const rows = tables.map((t) => {
    const near = nearestQuality(t.values, t.id === 0 ? IJG_LUMINANCE : IJG_CHROMINANCE);
    return { id: t.id, precision: t.precision, offset: t.offset, values: t.values, nearestIjgQuality: near.quality, exactIjg: near.exact };
  });
  const lum = rows.find((r) => r.id === 0) ?? rows[0];
  const qualities = new Set(rows.map((r) => r.nearestIjgQuality));
  const standardIjg = rows.every((r) => r.exactIjg) && qualities.size === 1;
  const interpretation = standardIjg
    ? `standard IJG (libjpeg) tables at quality ${lum.nearestIjgQuality}: written by a common software encoder (libjpeg and its descendants), not typical of a camera's own encoder`
    : `non-standard tables, nearest IJG quality about ${lum.nearestIjgQuality}: a camera's or an application's own tables`;
  return { tables: rows, estimatedQuality: lum.nearestIjgQuality, standardIjg, interpretation };
}
