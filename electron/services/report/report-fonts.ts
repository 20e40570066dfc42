// Fonts embedded in every report: DejaVu Sans and Sans Mono from the `dejavu-fonts-ttf` npm package
// (Latin with accents, Greek, Cyrillic, Arabic, Hebrew...). DejaVu has no CJK ideographs, and no npm
// dependency ships one, so a CJK font is taken from Debian's font packages when one is installed; when
// none is, such characters print as empty boxes and the report also spells them as U+ code points.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { findRepoRoot } from '../app/app-info';

export interface ReportFontFiles {
  sans: Buffer;
  sansBold: Buffer;
  mono: Buffer;
  /** A Debian font with CJK ideographs, when one is installed: file and, for a collection, the face. */
  cjk: { file: string; bytes: Buffer; face?: string } | null;
}

/** Debian packages that cover CJK, in order of preference (fonts-noto-cjk, fonts-wqy-*, fonts-droid-fallback). */
export const CJK_FONT_CANDIDATES: ReadonlyArray<{ file: string; face?: string }> = [
  { file: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', face: 'NotoSansCJKsc-Regular' },
  { file: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', face: 'WenQuanYiMicroHei' },
  { file: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', face: 'WenQuanYiZenHei' },
  { file: '/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf' },
];

function dejavuDir(): string {
  try {
    const require = createRequire(import.meta.url);
    return path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  } catch {
    return path.join(findRepoRoot(), 'node_modules', 'dejavu-fonts-ttf', 'ttf');
  }
}

let cached: ReportFontFiles | undefined;

export function loadReportFonts(): ReportFontFiles {
  if (cached) return cached;
  const dir = dejavuDir();
  const cjk = CJK_FONT_CANDIDATES.find((c) => fs.existsSync(c.file));
  cached = {
    sans: fs.readFileSync(path.join(dir, 'DejaVuSans.ttf')),
    sansBold: fs.readFileSync(path.join(dir, 'DejaVuSans-Bold.ttf')),
    mono: fs.readFileSync(path.join(dir, 'DejaVuSansMono.ttf')),
    cjk: cjk ? { file: cjk.file, face: cjk.face, bytes: fs.readFileSync(cjk.file) } : null,
  };
  return cached;
}
