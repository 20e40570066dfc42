// One view transform shared by the original and every explanation panel: zooming or panning any of
// them moves all of them, so the same pixel is under the cursor in all six.

export interface ViewTransform {
  /** Screen pixels per image pixel. */
  scale: number;
  /** Where the image's top-left corner sits in the panel, in screen pixels. */
  x: number;
  y: number;
}

export const MIN_SCALE = 0.02;
export const MAX_SCALE = 32;

const clampScale = (s: number) => Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));

/** The whole image inside a panel, centred. */
export function fitTransform(image: { width: number; height: number }, panel: { width: number; height: number }): ViewTransform {
  const scale = clampScale(Math.min(panel.width / image.width, panel.height / image.height));
  return { scale, x: (panel.width - image.width * scale) / 2, y: (panel.height - image.height * scale) / 2 };
}

/** One image pixel per screen pixel, centred. */
export function actualSizeTransform(image: { width: number; height: number }, panel: { width: number; height: number }): ViewTransform {
  return { scale: 1, x: (panel.width - image.width) / 2, y: (panel.height - image.height) / 2 };
}

/** Zooms by `factor` keeping the image point under (px, py) — panel coordinates — where it is. */
export function zoomAt(t: ViewTransform, factor: number, px: number, py: number): ViewTransform {
  const scale = clampScale(t.scale * factor);
  const k = scale / t.scale;
  return { scale, x: px - (px - t.x) * k, y: py - (py - t.y) * k };
}

export function panBy(t: ViewTransform, dx: number, dy: number): ViewTransform {
  return { ...t, x: t.x + dx, y: t.y + dy };
}

export function cssTransform(t: ViewTransform): string {
  return `translate(${t.x.toFixed(2)}px, ${t.y.toFixed(2)}px) scale(${t.scale.toFixed(5)})`;
}
