// Colour maps for heatmaps: jet (what pytorch-grad-cam shows, via cv2.COLORMAP_JET) and turbo
// (Google's perceptually smoother replacement), as 256-entry RGB tables.
export type ColormapName = 'jet' | 'turbo';
export const COLORMAPS: readonly ColormapName[] = ['jet', 'turbo'];

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function jet(t: number): [number, number, number] {
  const r = clamp01(1.5 - Math.abs(4 * t - 3));
  const g = clamp01(1.5 - Math.abs(4 * t - 2));
  const b = clamp01(1.5 - Math.abs(4 * t - 1));
  return [r, g, b];
}

// Polynomial fit of turbo by its author (Anton Mikhailov, Google, Apache-2.0).
function turbo(t: number): [number, number, number] {
  const r = 0.13572138 + t * (4.6153926 + t * (-42.66032258 + t * (132.13108234 + t * (-152.94239396 + t * 59.28637943))));
  const g = 0.09140261 + t * (2.19418839 + t * (4.84296658 + t * (-14.18503333 + t * (4.27729857 + t * 2.82956604))));
  const b = 0.1066733 + t * (12.64194608 + t * (-60.58204836 + t * (110.36276771 + t * (-89.90310912 + t * 27.34824973))));
  return [clamp01(r), clamp01(g), clamp01(b)];
}

const tables = new Map<ColormapName, Uint8Array>();

/** 256 × RGB bytes. */
export function colormapTable(name: ColormapName): Uint8Array {
  let table = tables.get(name);
  if (!table) {
    table = new Uint8Array(256 * 3);
    const f = name === 'jet' ? jet : turbo;
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = f(i / 255);
      table[3 * i] = Math.round(r * 255);
      table[3 * i + 1] = Math.round(g * 255);
      table[3 * i + 2] = Math.round(b * 255);
    }
    tables.set(name, table);
  }
  return table;
}
