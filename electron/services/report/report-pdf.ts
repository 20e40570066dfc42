// Lays a report snapshot out as a PDF with pdfkit: cover, summary table, one section per evidence item
// (image, facts, verdict, the five explanation panels side by side), methods and limitations from the
// model cards, and the audit trail. Nothing here reads the clock or a random source: the info dates
// and the file ID come from the export time, so equal snapshots give equal bytes.
import PDFDocument from 'pdfkit';
import sharp from 'sharp';
import { CaseStoreError } from '../case-store';
import { loadReportFonts } from './report-fonts';
import { readVerified, REPORT_PANELS, type ReportItem, type ReportModel, type ReportSnapshot } from './report-data';

export interface PanelRect {
  evidenceId: string;
  method: string;
  /** 0-based page index. */
  page: number;
  /** In PDF points, origin top-left (as pdftoppm renders). */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ReportLayout {
  pageCount: number;
  pageSize: { width: number; height: number };
  /** Where each explanation overlay image was drawn. */
  panels: PanelRect[];
}

export interface RenderOptions {
  signal?: AbortSignal;
  onProgress?(done: number, total: number, name?: string): void;
  /** Images already prepared for print (the benchmark's bound); otherwise they are downscaled here. */
  prepared?: PreparedImages;
}

/** Print-ready JPEGs of one item: the evidence image and the overlays by method, or why one is missing. */
export interface ItemImages {
  image: Buffer | null;
  imageProblem?: string;
  overlays: Map<string, Buffer>;
  overlayProblems: Map<string, string>;
}
export type PreparedImages = Map<string, ItemImages>;

const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = { top: 58, bottom: 54, left: 42, right: 42 };
const CONTENT_WIDTH = PAGE.width - MARGIN.left - MARGIN.right;
const BOTTOM = PAGE.height - MARGIN.bottom;
const EVIDENCE_IMAGE_MAX_SIDE = 1200;
const PANEL_IMAGE_MAX_SIDE = 480;
const JPEG_QUALITY = 85;
/** Above this length a string's uncovered characters are counted instead of spelled out. */
const SPELL_OUT_LIMIT = 300;

const COLOURS = { text: '#111111', muted: '#555555', rule: '#bbbbbb', bad: '#b00020', good: '#1b7a2b', other: '#8a5a00', fill: '#f1f1f1' };
// jet, as the CAM overlays draw it (explainers/colormap.ts): blue → cyan → yellow → red.
const JET_STOPS: Array<[number, string]> = [
  [0, '#000080'],
  [0.125, '#0000ff'],
  [0.375, '#00ffff'],
  [0.625, '#ffff00'],
  [0.875, '#ff0000'],
  [1, '#800000'],
];

type Font = 'sans' | 'bold' | 'mono' | 'cjk';
const NEUTRAL = /[\s\d\p{P}\p{S}]/u;

/** Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan and their presentation forms. */
function isRightToLeft(cp: number): boolean {
  return (cp >= 0x0590 && cp <= 0x08ff) || (cp >= 0xfb1d && cp <= 0xfdff) || (cp >= 0xfe70 && cp <= 0xfeff);
}
interface FontkitLike {
  hasGlyphForCodePoint(cp: number): boolean;
}

/** Downscales an image for print (EXIF orientation applied, aspect kept) to a JPEG; the stored copy stays the evidence. */
export async function printImage(bytes: Buffer, maxSide: number): Promise<Buffer> {
  return sharp(bytes, { autoOrient: true, pages: 1, page: 0, limitInputPixels: 180_000_000 })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: JPEG_QUALITY, chromaSubsampling: '4:4:4', mozjpeg: false })
    .toBuffer();
}

export async function prepareImages(items: readonly ReportItem[], signal?: AbortSignal): Promise<PreparedImages> {
  const out: PreparedImages = new Map();
  for (const item of items) {
    if (signal?.aborted) throw cancelled();
    out.set(item.evidence.id, await prepareItemImages(item));
  }
  return out;
}

/** Reads each file when its item is laid out (one item's images in memory at a time) and hashes it again. */
async function prepareItemImages(item: ReportItem): Promise<ItemImages> {
  const out: ItemImages = { image: null, overlays: new Map(), overlayProblems: new Map() };
  const evidenceImage = async () => {
    if (!item.imageFile) return;
    const bytes = await readVerified(item.imageFile, item.evidence.sha256);
    if (!bytes) out.imageProblem = 'The stored copy changed or became unreadable during the export; it is not shown. Run "case verify".';
    else {
      out.image = await printImage(bytes, EVIDENCE_IMAGE_MAX_SIDE).catch(() => null);
      if (!out.image) out.imageProblem = `The image could not be decoded for print (${item.evidence.mimeType}); the stored copy is intact.`;
    }
  };
  const overlay = async (p: ReportItem['panels'][number]) => {
    if (!p.overlayFile || !p.explanation?.heatmapSha256) return;
    const bytes = await readVerified(p.overlayFile, p.explanation.heatmapSha256);
    const jpeg = bytes ? await printImage(bytes, PANEL_IMAGE_MAX_SIDE).catch(() => null) : null;
    if (jpeg) out.overlays.set(p.method, jpeg);
    else out.overlayProblems.set(p.method, bytes ? 'the overlay could not be decoded' : 'the overlay file no longer matches its recorded sha256');
  };
  // Six encodes at once: sharp runs them on its own threads. Results land in maps keyed by method,
  // so the order they finish in changes nothing in the PDF.
  await Promise.all([evidenceImage(), ...item.panels.map(overlay)]);
  return out;
}

function cancelled(): CaseStoreError {
  return new CaseStoreError('CANCELLED', 'The report export was cancelled.');
}

export async function renderReportPdf(snapshot: ReportSnapshot, options: RenderOptions = {}): Promise<{ bytes: Buffer; layout: ReportLayout }> {
  const fonts = loadReportFonts();
  const exported = new Date(snapshot.exportedAt);
  const doc = new PDFDocument({
    size: 'A4',
    margins: MARGIN,
    bufferPages: true,
    autoFirstPage: false,
    compress: true,
    lang: 'en',
    displayTitle: true,
    info: {
      Title: `Case report ${snapshot.case.caseNumber}`,
      Author: snapshot.case.examiner,
      Subject: `${snapshot.case.title}`,
      Keywords: `report ${snapshot.reportId}`,
      Creator: `${snapshot.tool.name} ${snapshot.tool.version}`,
      Producer: `${snapshot.tool.name} ${snapshot.tool.version} (PDFKit)`,
      CreationDate: exported,
      ModDate: exported,
      // Read back by `report verify` to tell "changed" from "never issued".
      ReportId: snapshot.reportId,
    } as PDFKit.DocumentInfo,
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', () => resolve());
    doc.on('error', reject);
  });

  doc.registerFont('sans', fonts.sans);
  doc.registerFont('bold', fonts.sansBold);
  doc.registerFont('mono', fonts.mono);
  if (fonts.cjk) doc.registerFont('cjk', fonts.cjk.bytes, fonts.cjk.face as string);
  const w = new ReportWriter(doc, Boolean(fonts.cjk));
  const layout: ReportLayout = { pageCount: 0, pageSize: PAGE, panels: [] };

  w.newPage();
  writeCover(w, snapshot);
  w.newPage();
  writeSummary(w, snapshot);
  writeCaseNotes(w, snapshot);
  const total = snapshot.items.length;
  options.onProgress?.(0, total);
  // The next item's images are read and encoded (sharp, off the main thread) while this one is laid out.
  const load = (k: number): Promise<ItemImages> | null =>
    k < total ? (options.prepared?.has(snapshot.items[k].evidence.id) ? Promise.resolve(options.prepared.get(snapshot.items[k].evidence.id)!) : prepareItemImages(snapshot.items[k])) : null;
  let next = load(0);
  for (const [i, item] of snapshot.items.entries()) {
    if (options.signal?.aborted) throw cancelled();
    const images = await next!;
    next = load(i + 1);
    w.newPage();
    writeItem(w, snapshot, item, i, images, layout);
    options.onProgress?.(i + 1, total, item.evidence.originalName);
  }
  w.newPage();
  writeMethods(w, snapshot);
  w.newPage();
  writeAuditAppendix(w, snapshot);
  if (options.signal?.aborted) throw cancelled();

  const range = doc.bufferedPageRange();
  layout.pageCount = range.count;
  for (let i = 0; i < range.count; i++) {
    doc.switchToPage(range.start + i);
    w.pageFurniture(snapshot, i + 1, range.count);
  }
  doc.end();
  await ended;
  return { bytes: Buffer.concat(chunks), layout };
}

/** Text with the right font for its script, page breaks before blocks, and a few table helpers. */
class ReportWriter {
  private readonly coverage = new Map<Font, FontkitLike>();

  constructor(
    readonly doc: PDFKit.PDFDocument,
    private readonly hasCjk: boolean,
  ) {}

  newPage(): void {
    this.doc.addPage({ size: 'A4', margins: MARGIN });
    this.doc.x = MARGIN.left;
    this.doc.y = MARGIN.top;
  }

  /** Starts a new page unless `height` more points fit on this one. */
  ensure(height: number): void {
    if (this.doc.y + height > BOTTOM) this.newPage();
  }

  private fontkit(font: Font): FontkitLike {
    let f = this.coverage.get(font);
    if (!f) {
      this.doc.font(font);
      // pdfkit keeps the fontkit font of an embedded TTF here; it answers which code points have glyphs.
      f = (this.doc as unknown as { _font: { font: FontkitLike } })._font.font;
      this.coverage.set(font, f);
    }
    return f;
  }

  /**
   * A user-supplied string with a note appended for characters that no embedded font has (so the text
   * stays recoverable from the report); which font draws which run is decided by draw().
   */
  fit(text: string, font: Font): { font: Font; text: string } {
    const shown = (ch: string) => {
      const cp = ch.codePointAt(0)!;
      return ch.trim() === '' || this.fontkit(font).hasGlyphForCodePoint(cp) || (this.hasCjk && this.fontkit('cjk').hasGlyphForCodePoint(cp));
    };
    const cps = [...text].filter((ch) => !shown(ch));
    if (!cps.length) return { font, text };
    const note =
      text.length <= SPELL_OUT_LIMIT
        ? ` [not in the embedded fonts: ${cps.map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ')}]`
        : ` [${cps.length} characters are not in the embedded fonts]`;
    return { font, text: text + note };
  }

  /** Runs of one direction and one font; spaces, digits and punctuation join the run before them. */
  private runs(text: string, font: Font): Array<{ text: string; font: Font; rtl: boolean }> {
    const out: Array<{ text: string; font: Font; rtl: boolean }> = [];
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      const neutral = NEUTRAL.test(ch);
      const rtl = isRightToLeft(cp);
      const f: Font = neutral || this.fontkit(font).hasGlyphForCodePoint(cp) || !this.hasCjk || !this.fontkit('cjk').hasGlyphForCodePoint(cp) ? font : 'cjk';
      const last = out.at(-1);
      if (last && (neutral || (last.rtl === rtl && last.font === f))) last.text += ch;
      else {
        // Spaces after a right-to-left run belong between it and the next, not at its visual start.
        const trailing = last?.rtl ? (/\s+$/.exec(last.text)?.[0] ?? '') : '';
        if (last && trailing) last.text = last.text.slice(0, -trailing.length);
        out.push({ text: trailing + ch, font: f, rtl });
      }
    }
    return out.length ? out : [{ text, font, rtl: false }];
  }

  /**
   * Draws a string whose runs may differ in direction or font. pdfkit lays text out word by word and
   * left to right; a right-to-left run is handed to fontkit whole (features: []), which shapes it and
   * puts its glyphs in visual order. A short string that starts right-to-left also has its runs reversed.
   */
  draw(value: string, font: Font, x: number, y: number, options: PDFKit.Mixins.TextOptions): void {
    const runs = this.runs(value, font);
    if (runs.length === 1 && !runs[0].rtl) {
      this.doc.font(runs[0].font).text(runs[0].text, x, y, options);
      return;
    }
    const firstStrong = runs.find((r) => !/^[\s\d\p{P}\p{S}]*$/u.test(r.text));
    const ordered = firstStrong?.rtl && value.length <= 80 ? [...runs].reverse() : runs;
    ordered.forEach((r, i) => {
      this.doc.font(r.font);
      const opts = { ...options, continued: i < ordered.length - 1, features: r.rtl ? [] : undefined } as PDFKit.Mixins.TextOptions;
      if (i === 0) this.doc.text(r.text, x, y, opts);
      else this.doc.text(r.text, opts);
    });
  }

  text(value: string, options: { font?: Font; size?: number; colour?: string; x?: number; width?: number; align?: 'left' | 'center' | 'right'; gap?: number; user?: boolean } = {}): void {
    const font = options.font ?? 'sans';
    const fitted = options.user ? this.fit(value, font) : { font, text: value };
    const size = options.size ?? 9.5;
    this.doc.font(fitted.font).fontSize(size).fillColor(options.colour ?? COLOURS.text);
    const x = options.x ?? MARGIN.left;
    const width = options.width ?? CONTENT_WIDTH - (x - MARGIN.left);
    this.ensure(this.doc.currentLineHeight(true) + 1);
    if (options.user) this.draw(fitted.text, fitted.font, x, this.doc.y, { width, align: options.align ?? 'left', lineGap: 1.5 });
    else this.doc.text(fitted.text, x, this.doc.y, { width, align: options.align ?? 'left', lineGap: 1.5 });
    if (options.gap) this.doc.y += options.gap;
  }

  heading(value: string, size = 14): void {
    this.ensure(size * 3);
    this.doc.y += size * 0.4;
    this.text(value, { font: 'bold', size, user: true, gap: 4 });
  }

  /** A two-column list of facts; values may be long (they wrap) and user-supplied. */
  facts(rows: Array<[string, string, Font?, string?]>, labelWidth = 120): void {
    for (const [label, value, font, colour] of rows) {
      const f = this.fit(value, font ?? 'sans');
      this.doc.font(f.font).fontSize(font === 'mono' ? 8 : 9);
      const valueWidth = CONTENT_WIDTH - labelWidth;
      const h = Math.max(this.doc.heightOfString(f.text, { width: valueWidth, lineGap: 1.5 }), 11);
      this.ensure(Math.min(h, 60) + 3);
      const y = this.doc.y;
      this.doc.font('bold').fontSize(8.5).fillColor(COLOURS.muted).text(label, MARGIN.left, y, { width: labelWidth - 6, lineGap: 1.5 });
      const afterLabel = this.doc.y;
      this.doc.font(f.font).fontSize(font === 'mono' ? 8 : 9).fillColor(colour ?? COLOURS.text);
      this.draw(f.text, f.font, MARGIN.left + labelWidth, y, { width: valueWidth, lineGap: 1.5 });
      // A value that flowed onto a new page ends where it ends; otherwise below the taller of the two.
      if (this.doc.y >= y) this.doc.y = Math.max(this.doc.y, afterLabel) + 2;
      else this.doc.y += 2;
    }
  }

  rule(): void {
    this.ensure(8);
    this.doc.y += 3;
    this.doc.moveTo(MARGIN.left, this.doc.y).lineTo(PAGE.width - MARGIN.right, this.doc.y).lineWidth(0.5).strokeColor(COLOURS.rule).stroke();
    this.doc.y += 5;
  }

  /** A shaded box with bold text, for the things a reader must not miss. */
  callout(value: string, colour: string): void {
    this.doc.font('bold').fontSize(9.5);
    const f = this.fit(value, 'bold');
    this.doc.font(f.font);
    const h = this.doc.heightOfString(f.text, { width: CONTENT_WIDTH - 16, lineGap: 1.5 }) + 10;
    this.ensure(Math.min(h, 200) + 6);
    const y = this.doc.y;
    if (y + h <= BOTTOM) this.doc.rect(MARGIN.left, y, CONTENT_WIDTH, h).lineWidth(1).strokeColor(colour).stroke();
    this.doc.fillColor(colour);
    this.draw(f.text, f.font, MARGIN.left + 8, y + 5, { width: CONTENT_WIDTH - 16, lineGap: 1.5 });
    this.doc.y = Math.max(this.doc.y, y + h) + 6;
  }

  /** Header (case number and report id) and footer (page n of N) of one page. */
  pageFurniture(s: ReportSnapshot, n: number, total: number): void {
    const doc = this.doc;
    const keep = doc.page.margins.bottom;
    // Writing into the bottom margin must not make pdfkit start another page.
    doc.page.margins.bottom = 0;
    const header = this.fit(`Case ${s.case.caseNumber}`, 'sans');
    doc.fontSize(7.5).fillColor(COLOURS.muted);
    this.draw(header.text, header.font, MARGIN.left, 26, { width: CONTENT_WIDTH / 2, lineBreak: false, ellipsis: true });
    doc.font('sans').fontSize(7.5).text(`Report ${s.reportId}`, MARGIN.left + CONTENT_WIDTH / 2, 26, { width: CONTENT_WIDTH / 2, align: 'right', lineBreak: false });
    doc.moveTo(MARGIN.left, 40).lineTo(PAGE.width - MARGIN.right, 40).lineWidth(0.5).strokeColor(COLOURS.rule).stroke();
    doc.moveTo(MARGIN.left, PAGE.height - 40).lineTo(PAGE.width - MARGIN.right, PAGE.height - 40).lineWidth(0.5).strokeColor(COLOURS.rule).stroke();
    doc.font('sans').fontSize(7.5).fillColor(COLOURS.muted);
    doc.text(`${s.tool.name} ${s.tool.version} · exported ${formatTime(s.exportedAt, s.timeZone)}`, MARGIN.left, PAGE.height - 34, { width: CONTENT_WIDTH * 0.7, lineBreak: false });
    doc.text(`page ${n} of ${total}`, MARGIN.left + CONTENT_WIDTH * 0.7, PAGE.height - 34, { width: CONTENT_WIDTH * 0.3, align: 'right', lineBreak: false });
    doc.page.margins.bottom = keep;
  }
}

// ---- sections

function writeCover(w: ReportWriter, s: ReportSnapshot): void {
  const c = s.case;
  w.doc.y = MARGIN.top + 30;
  w.text('Forensic case report', { font: 'bold', size: 22, gap: 4 });
  w.text('Is each evidence image a photograph or AI-generated, and why the detector says so.', { size: 10, colour: COLOURS.muted, gap: 18 });
  w.text(`Case ${c.caseNumber}`, { font: 'bold', size: 16, user: true, gap: 2 });
  w.text(c.title, { size: 12, user: true, gap: 14 });
  const failing = s.items.filter((i) => !i.check.ok);
  if (failing.length) {
    w.callout(
      `${failing.length} evidence item${failing.length === 1 ? '' : 's'} FAIL${failing.length === 1 ? 'S' : ''} THE HASH CHECK at export: ` +
        failing.map((i) => `${i.evidence.originalName} (${i.check.ok ? '' : i.check.problem === 'missing' ? 'stored file missing' : 'stored file modified'})`).join('; ') +
        '. Their pages say so and show no image.',
      COLOURS.bad,
    );
  }
  const models = s.models.length
    ? s.models.map((m) => `${m.id}\nsha256 ${m.sha256}\nthreshold ${thresholdsOf(s, m).join(', ')} (p(synthetic) at or above reads "synthetic")`).join('\n\n')
    : 'No detector has analysed the evidence in this report.';
  w.facts([
    ['Case number', c.caseNumber],
    ['Title', c.title],
    ['Examiner', c.examiner],
    ['Agency', c.agency ?? '—'],
    ['Case opened', formatTime(c.createdAt, s.timeZone)],
    ['Case status', c.closedAt ? `closed ${formatTime(c.closedAt, s.timeZone)}` : 'open'],
    ['Exported', formatTime(s.exportedAt, s.timeZone)],
    ['Exported by', s.exportedBy],
    ['Report id', s.reportId, 'mono'],
    ['Tool', `${s.tool.name} ${s.tool.version}`],
    ['Evidence in report', s.selection ? `${s.items.length} selected item(s) of the case` : `${s.items.length} (all of the case)`],
    ['Detector model', models, 'mono'],
    ['Execution providers', s.providers.length ? s.providers.join(', ') : '—'],
    ['Audit chain head', s.verify.auditHead ? `entry ${s.verify.auditHead.index}\n${s.verify.auditHead.hash}` : 'no entries', 'mono'],
    ['Case verify at export', verifySentence(s), undefined, s.verify.ok ? COLOURS.good : COLOURS.bad],
  ]);
  w.rule();
  w.text(
    'The sha256 of this PDF is recorded in the case\'s audit chain when it is exported; "npm run cli -- report verify <file.pdf>" says whether a file is a report this store issued, unchanged. ' +
      'A verdict is one indicator, not proof: see "Methods and limitations".',
    { size: 8.5, colour: COLOURS.muted },
  );
}

function verifySentence(s: ReportSnapshot): string {
  const v = s.verify;
  const base = `${v.evidenceChecked} stored file(s) re-hashed, ${v.auditEntriesChecked} audit entries walked`;
  return v.ok ? `PASSED: ${base}; no mismatch.` : `FAILED: ${base}; ${v.issues.length} issue(s), listed in Appendix B.`;
}

function thresholdsOf(s: ReportSnapshot, m: ReportModel): string[] {
  const t = new Set<string>();
  for (const i of s.items) if (i.analysis && i.analysis.model.id === m.id && i.analysis.model.sha256 === m.sha256) t.add(i.analysis.threshold.toFixed(3));
  return [...t].sort();
}

function verdictColour(verdict: string): string {
  if (verdict === 'synthetic') return COLOURS.bad;
  if (verdict === 'real') return COLOURS.good;
  return COLOURS.other;
}

function writeSummary(w: ReportWriter, s: ReportSnapshot): void {
  w.heading('Summary');
  if (!s.items.length) {
    w.text(s.selection ? 'No evidence was selected.' : 'This case holds no evidence; there is nothing to report on but its record (below).', { gap: 6 });
    return;
  }
  const cols = [
    { title: '#', width: 16 },
    { title: 'Evidence', width: 86 },
    { title: 'sha256', width: 128 },
    { title: 'Verdict', width: 50 },
    { title: 'p(synth.)', width: 44 },
    { title: 'Thresh.', width: 34 },
    { title: 'Model', width: 82 },
    { title: 'Analysed at', width: CONTENT_WIDTH - 16 - 86 - 128 - 50 - 44 - 34 - 82 },
  ];
  const doc = w.doc;
  const header = () => {
    w.ensure(30);
    let x = MARGIN.left;
    const y = doc.y;
    doc.rect(MARGIN.left, y, CONTENT_WIDTH, 14).fillColor(COLOURS.fill).fill();
    for (const col of cols) {
      doc.font('bold').fontSize(7).fillColor(COLOURS.text).text(col.title, x + 2, y + 3.5, { width: col.width - 4, lineBreak: false });
      x += col.width;
    }
    doc.y = y + 16;
  };
  header();
  for (const [i, item] of s.items.entries()) {
    const a = item.analysis;
    const sha = item.evidence.sha256;
    const cells: Array<{ text: string; font: Font; colour?: string; user?: boolean }> = [
      { text: String(i + 1), font: 'sans' },
      { ...w.fit(item.evidence.originalName + (item.check.ok ? '' : '\nFAILS HASH CHECK'), 'sans'), colour: item.check.ok ? undefined : COLOURS.bad, user: true },
      // Two halves of 32 hex digits: the break is always in the same place, never inside a group.
      { text: `${sha.slice(0, 32)}\n${sha.slice(32)}`, font: 'mono' },
      { text: a ? a.verdict : 'not analysed', font: a ? 'bold' : 'sans', colour: a ? verdictColour(a.verdict) : COLOURS.muted },
      { text: a ? a.pSynthetic.toFixed(4) : '—', font: 'sans' },
      { text: a ? a.threshold.toFixed(3) : '—', font: 'sans' },
      { text: a ? a.model.id : '—', font: 'sans' },
      { text: a ? formatTime(a.createdAt, s.timeZone) : '—', font: 'sans' },
    ];
    const heights = cells.map((c, k) => {
      doc.font(c.font).fontSize(c.font === 'mono' ? 6.2 : 7);
      return doc.heightOfString(c.text, { width: cols[k].width - 4, lineGap: 1 });
    });
    const h = Math.max(...heights) + 6;
    if (doc.y + h > BOTTOM) {
      w.newPage();
      header();
    }
    const y = doc.y;
    let x = MARGIN.left;
    for (const [k, c] of cells.entries()) {
      doc.font(c.font).fontSize(c.font === 'mono' ? 6.2 : 7).fillColor(c.colour ?? COLOURS.text);
      if (c.user) w.draw(c.text, c.font, x + 2, y + 3, { width: cols[k].width - 4, lineGap: 1 });
      else doc.text(c.text, x + 2, y + 3, { width: cols[k].width - 4, lineGap: 1 });
      x += cols[k].width;
    }
    doc.moveTo(MARGIN.left, y + h).lineTo(PAGE.width - MARGIN.right, y + h).lineWidth(0.3).strokeColor(COLOURS.rule).stroke();
    doc.y = y + h + 1;
  }
  doc.y += 6;
  w.text('Verdicts are those of each item\'s latest analysis. Times are in ' + s.timeZone + '.', { size: 8, colour: COLOURS.muted });
}

function writeCaseNotes(w: ReportWriter, s: ReportSnapshot): void {
  if (!s.caseNotes.length) return;
  w.heading("Examiner's notes on the case", 12);
  for (const n of s.caseNotes) {
    w.text(`${n.author}, ${formatTime(n.createdAt, s.timeZone)}`, { font: 'bold', size: 8.5, colour: COLOURS.muted, user: true });
    w.text(n.body, { size: 9, user: true, gap: 6 });
  }
}

function writeItem(
  w: ReportWriter,
  s: ReportSnapshot,
  item: ReportItem,
  index: number,
  images: ItemImages,
  layout: ReportLayout,
): void {
  const e = item.evidence;
  const doc = w.doc;
  w.heading(`Evidence ${index + 1} of ${s.items.length}: ${e.originalName}`, 13);
  if (!item.check.ok) {
    w.callout(
      item.check.problem === 'missing'
        ? `THE STORED FILE FAILS ITS HASH CHECK: the copy in the case folder (${e.storedPath}) is missing or unreadable at export. No image is shown; the facts below are the record made at ingest.`
        : `THE STORED FILE FAILS ITS HASH CHECK: the copy in the case folder (${e.storedPath}) now hashes to ${item.check.actualSha256} (${item.check.actualSize} bytes), not to the sha256 recorded at ingest. It is not shown; the facts below are the record made at ingest.`,
      COLOURS.bad,
    );
  }
  w.facts([
    ['Original name', e.originalName],
    ['Original path', e.originalPath],
    ['Stored copy', e.storedPath, 'mono'],
    ['sha256', e.sha256, 'mono'],
    ['Hash check at export', item.check.ok ? 'the stored copy matches its recorded sha256' : 'FAILED (see above)', undefined, item.check.ok ? COLOURS.good : COLOURS.bad],
    ['Size', `${e.sizeBytes.toLocaleString('en-US')} bytes`],
    ['Dimensions', e.width && e.height ? `${e.width} × ${e.height} px` : 'unknown'],
    ['Type', e.mimeType],
    ['Ingested', `${formatTime(e.ingestedAt, s.timeZone)} by ${e.ingestedBy}`],
    ['Source modified', e.sourceModifiedAt ? formatTime(e.sourceModifiedAt, s.timeZone) : 'not recorded'],
    ...(item.tags.length ? ([['Tags', item.tags.join(', ')]] as Array<[string, string]>) : []),
  ]);

  if (images.imageProblem) w.text(images.imageProblem, { colour: COLOURS.bad, gap: 4 });
  if (images.image) {
    const box = { width: CONTENT_WIDTH, height: 250 };
    w.ensure(box.height + 24);
    const y = doc.y + 4;
    doc.image(images.image, MARGIN.left, y, { fit: [box.width, box.height], align: 'center', valign: 'center' });
    doc.y = y + box.height + 3;
    w.text('Downscaled for print, aspect ratio kept; the stored copy named by the sha256 above is the evidence.', { size: 7.5, colour: COLOURS.muted, align: 'center', gap: 4 });
  }

  w.heading('Detector', 11);
  const a = item.analysis;
  if (!a) w.text('Not analysed: no detector has been run on this item.', { colour: COLOURS.muted });
  else {
    w.facts([
      ['Verdict', a.verdict.toUpperCase(), 'bold', verdictColour(a.verdict)],
      ['p(synthetic)', `${a.pSynthetic.toFixed(4)} (threshold ${a.threshold.toFixed(3)}: at or above reads "synthetic")`],
      ['Model', `${a.model.id}\nsha256 ${a.model.sha256}`, 'mono'],
      ['Execution provider', a.provider],
      ['Analysed', `${formatTime(a.createdAt, s.timeZone)} by ${a.createdBy} (${Math.round(a.durationMs)} ms)`],
    ]);
  }

  writePanels(w, item, images, layout);

  if (item.notes.length) {
    w.heading("Examiner's notes", 11);
    for (const n of item.notes) {
      w.text(`${n.author}, ${formatTime(n.createdAt, s.timeZone)}`, { font: 'bold', size: 8.5, colour: COLOURS.muted, user: true });
      w.text(n.body, { size: 9, user: true, gap: 6 });
    }
  }
  if (item.provenance.length) {
    w.heading('Provenance findings', 11);
    for (const p of item.provenance) {
      w.text(p.title, { font: 'bold', size: 9, user: true });
      for (const line of p.lines) w.text(`• ${line}`, { size: 8.5, user: true, x: MARGIN.left + 8 });
      doc.y += 4;
    }
  }
}

function writePanels(w: ReportWriter, item: ReportItem, images: ItemImages, layout: ReportLayout): void {
  const doc = w.doc;
  const recorded = item.panels.filter((p) => p.explanation);
  w.heading(item.target ? `Explanations (target class explained: ${item.target})` : 'Explanations', 11);
  if (!recorded.length) {
    w.text(
      item.analysis
        ? 'No explanations: none was computed for this item\'s latest analysis (use "Explain with all five methods" in the evidence viewer, or the explanation job, to add them).'
        : 'No explanations: the item has not been analysed.',
      { colour: COLOURS.muted, gap: 4 },
    );
    return;
  }
  const gap = 6;
  const panelWidth = (CONTENT_WIDTH - gap * (REPORT_PANELS.length - 1)) / REPORT_PANELS.length;
  const e = item.evidence;
  const aspect = e.width && e.height ? e.width / e.height : 1;
  const panelHeight = Math.min(panelWidth / aspect, panelWidth * 1.5);
  w.ensure(panelHeight + 110);
  const page = doc.bufferedPageRange().start + doc.bufferedPageRange().count - 1;
  const top = doc.y + 2;
  for (const [k, p] of item.panels.entries()) {
    const x = MARGIN.left + k * (panelWidth + gap);
    const jpeg = images.overlays.get(p.method);
    if (jpeg) {
      const size = fitSize(jpeg, panelWidth, panelHeight);
      const ix = x + (panelWidth - size.width) / 2;
      const iy = top + (panelHeight - size.height) / 2;
      doc.image(jpeg, ix, iy, { width: size.width, height: size.height });
      layout.panels.push({ evidenceId: e.id, method: p.method, page, x: ix, y: iy, width: size.width, height: size.height });
    } else {
      doc.rect(x, top, panelWidth, panelHeight).lineWidth(0.5).strokeColor(COLOURS.rule).stroke();
      const why = p.explanation ? (p.problem ?? images.overlayProblems.get(p.method) ?? 'overlay unavailable') : 'not computed';
      doc.font('sans').fontSize(7).fillColor(COLOURS.muted).text(why, x + 4, top + panelHeight / 2 - 8, { width: panelWidth - 8, align: 'center' });
    }
    const params = p.explanation?.parameters ?? {};
    const sub = p.method === 'lime' ? `${params.samples ?? ''}${params.samples ? ' samples' : ''}` : typeof params.layer === 'string' ? params.layer : '';
    doc.font('bold').fontSize(7.5).fillColor(COLOURS.text).text(p.caption, x, top + panelHeight + 3, { width: panelWidth, align: 'center', lineBreak: false });
    if (sub) doc.font('sans').fontSize(6).fillColor(COLOURS.muted).text(sub, x, top + panelHeight + 13, { width: panelWidth, align: 'center', lineBreak: false, ellipsis: true });
  }
  doc.y = top + panelHeight + 24;
  writeLegend(w);
}

/** Width and height of a JPEG fitted into a box, aspect kept (read from the JPEG's own header). */
function fitSize(jpeg: Buffer, maxW: number, maxH: number): { width: number; height: number } {
  const dims = jpegSize(jpeg);
  const scale = Math.min(maxW / dims.width, maxH / dims.height);
  return { width: dims.width * scale, height: dims.height * scale };
}

function jpegSize(b: Buffer): { width: number; height: number } {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  return { width: 1, height: 1 };
}

function writeLegend(w: ReportWriter): void {
  const doc = w.doc;
  w.ensure(40);
  const y = doc.y;
  const barX = MARGIN.left;
  const barW = 150;
  const grad = doc.linearGradient(barX, 0, barX + barW, 0);
  for (const [t, c] of JET_STOPS) grad.stop(t, c);
  doc.rect(barX, y, barW, 8).fill(grad);
  doc.font('sans').fontSize(6.5).fillColor(COLOURS.muted);
  doc.text('low', barX, y + 10, { width: 40, lineBreak: false });
  doc.text('high', barX + barW - 40, y + 10, { width: 40, align: 'right', lineBreak: false });
  doc.fontSize(7).fillColor(COLOURS.text).text('GradCAM, AblationCAM, LayerCAM, Faster ScoreCAM: relevance to the target class (jet colour map, 50% over the image).', barX + barW + 10, y - 1, {
    width: CONTENT_WIDTH - barW - 10,
  });
  const y2 = Math.max(doc.y, y + 18) + 3;
  const swatch = (x: number, colour: string, label: string) => {
    doc.rect(x, y2, 9, 9).fill(colour);
    doc.font('sans').fontSize(7).fillColor(COLOURS.text).text(label, x + 12, y2 + 1, { width: 150, lineBreak: false });
  };
  swatch(MARGIN.left, '#00ff00', 'LIME: regions for the target class');
  swatch(MARGIN.left + 165, '#ff0000', 'LIME: regions against it');
  swatch(MARGIN.left + 310, '#ffff00', 'LIME: region outlines');
  doc.y = y2 + 16;
}

const METRICS: Array<[string, string]> = [
  ['precision', 'Precision'],
  ['recall', 'Recall'],
  ['f1', 'F1'],
  ['accuracy', 'Accuracy'],
  ['ap', 'AP'],
  ['rocAuc', 'ROC-AUC'],
  ['fpr', 'FPR'],
  ['fnr', 'FNR'],
];

/** Named by the method's paper (Baraheem & Nguyen 2023, "Failure cases") when a card lists none. */
export const PAPER_FAILURE_MODES = [
  'Real photographs whose background or foreground is blurry, that look vintage or old, that are of low quality, or that show motion can be classified as synthetic.',
  'Synthetic images with fine-grained detail or sharp textures (generated images tend to have smoother textures) can be classified as real.',
];

function num(v: unknown, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—';
}

function writeMethods(w: ReportWriter, s: ReportSnapshot): void {
  w.heading('Methods and limitations');
  w.text(
    'Each image is scored by a detector: a frozen ImageNet backbone whose pooled features feed the head of Baraheem & Nguyen (2023), "AI vs. AI: Can AI Detect AI-Generated Images?". ' +
      'It gives p(synthetic); at or above the model\'s threshold the verdict reads "synthetic". The explanations show which parts of the image drove that score: GradCAM, AblationCAM, LayerCAM and Faster ScoreCAM as heatmaps over a feature layer, LIME as superpixels for and against the target class.',
    { size: 9, gap: 6 },
  );
  if (!s.models.length) w.text('No model analysed the evidence in this report, so no model card applies.', { colour: COLOURS.muted, gap: 6 });
  for (const m of s.models) {
    const card = m.card;
    w.heading(`Model ${m.id}`, 11);
    if (!card) {
      w.text(`No model card for ${m.id} with sha256 ${m.sha256} was found at export (neither in the case store nor in the model registry); its training data and metrics cannot be stated.`, { colour: COLOURS.bad, gap: 4 });
      continue;
    }
    const backbone = (card.backbone ?? {}) as Record<string, unknown>;
    const training = (card.trainingData ?? {}) as Record<string, unknown>;
    const selection = (card.thresholdSelection ?? {}) as Record<string, unknown>;
    w.facts([
      ['Name', String(card.name ?? m.id)],
      ['sha256', m.sha256, 'mono'],
      ['Card from', `${m.cardSource}${typeof card.createdAt === 'string' ? `, created ${card.createdAt}` : ''}`],
      ['Backbone', `${String(backbone.name ?? '—')}${backbone.featureLayer ? `, features of ${String(backbone.featureLayer)}` : ''}`],
      ['Threshold', `${num(card.threshold)}${selection.chosenOn ? ` (chosen on the ${String(selection.chosenOn)} split, ${String(selection.criterion ?? '')})` : ''}`],
      ['Training data', String(training.summary ?? '—')],
    ]);
    const metrics = (card.metrics ?? {}) as Record<string, unknown>;
    const test = (metrics.test ?? null) as Record<string, unknown> | null;
    w.text(`Test metrics${test && typeof test.n === 'number' ? ` (${test.n} images)` : ''}`, { font: 'bold', size: 9 });
    if (test) metricTable(w, [METRICS.map(([, label]) => label), METRICS.map(([k]) => num(test[k]))]);
    else w.text('The card records no test metrics.', { colour: COLOURS.muted });
    for (const [key, label] of [
      ['leaveOneModalityOut', 'Leave-one-modality-out ROC-AUC'],
      ['leaveOneGeneratorOut', 'Leave-one-generator-out ROC-AUC'],
    ] as const) {
      const lo = metrics[key] as { folds?: Array<{ heldOut: string; rocAuc: number | null }>; mean?: number; min?: number } | undefined;
      if (!lo?.folds?.length) {
        w.text(`${label}: not recorded on the card.`, { size: 8.5, colour: COLOURS.muted });
        continue;
      }
      const folds = [...lo.folds].sort((a, b) => (a.rocAuc ?? -1) - (b.rocAuc ?? -1));
      w.text(`${label}: mean ${num(lo.mean)}, worst ${num(lo.min)} (${folds.length} folds; the number that predicts a new ${key === 'leaveOneModalityOut' ? 'kind of generator' : 'generator'})`, { font: 'bold', size: 8.5 });
      w.text(folds.map((f) => `${f.heldOut} ${num(f.rocAuc)}`).join(' · '), { size: 7.5, colour: COLOURS.muted, gap: 3 });
    }
    if (typeof card.limitations === 'string') {
      w.text('Limitations stated on the card', { font: 'bold', size: 9 });
      w.text(card.limitations, { size: 8.5, gap: 3 });
    }
    const modes = Array.isArray(card.knownFailureModes) ? (card.knownFailureModes as unknown[]).map(String) : null;
    w.text(modes ? 'Known failure modes (model card)' : 'Known failure modes (named by the method\'s paper, Baraheem & Nguyen 2023)', { font: 'bold', size: 9 });
    for (const line of modes ?? PAPER_FAILURE_MODES) w.text(`• ${line}`, { size: 8.5, x: MARGIN.left + 8 });
  }
  w.rule();
  w.callout('A verdict is one indicator, not proof. It says what one model, with the limits above, makes of one image; weigh it with the provenance of the file and the other evidence of the case.', COLOURS.text);
}

function metricTable(w: ReportWriter, rows: string[][]): void {
  const doc = w.doc;
  const colW = CONTENT_WIDTH / rows[0].length;
  w.ensure(rows.length * 13 + 6);
  for (const [r, row] of rows.entries()) {
    const y = doc.y;
    if (r === 0) doc.rect(MARGIN.left, y, CONTENT_WIDTH, 12).fillColor(COLOURS.fill).fill();
    for (const [k, cell] of row.entries()) {
      doc.font(r === 0 ? 'bold' : 'sans').fontSize(7.5).fillColor(COLOURS.text).text(cell, MARGIN.left + k * colW + 2, y + 2.5, { width: colW - 4, align: 'center', lineBreak: false });
    }
    doc.y = y + 13;
  }
  doc.y += 4;
}

function writeAuditAppendix(w: ReportWriter, s: ReportSnapshot): void {
  const doc = w.doc;
  w.heading('Appendix A: audit trail of the case');
  w.text(
    `Every entry of the case's hash chain at export (${s.audit.length}), oldest first. hash = sha256(previous hash + canonical JSON of {chain, index, at, actor, action, details}). ` +
      'Details longer than 600 characters are shortened here; "npm run cli -- case audit <case>" prints them whole.',
    { size: 8, colour: COLOURS.muted, gap: 4 },
  );
  for (const e of s.audit) {
    const details = JSON.stringify(e.details);
    const shown = details.length > 600 ? `${details.slice(0, 600)}… (${details.length - 600} more characters)` : details;
    w.ensure(40);
    w.text(`#${e.index}  ${formatTime(e.at, s.timeZone)}  ${e.action}  by ${e.actor}`, { font: 'bold', size: 8, user: true });
    w.text(`hash ${e.hash}\nprev ${e.prevHash}`, { font: 'mono', size: 6.8 });
    w.text(shown, { font: 'mono', size: 6.3, colour: COLOURS.muted, user: true, gap: 3 });
  }
  w.newPage();
  w.heading('Appendix B: case verify at export');
  const v = s.verify;
  w.facts([
    ['Result', v.ok ? 'PASSED' : 'FAILED', 'bold', v.ok ? COLOURS.good : COLOURS.bad],
    ['Checked at', formatTime(v.verifiedAt, s.timeZone)],
    ['Stored files re-hashed', `${v.evidenceChecked} evidence file(s), ${v.bytesHashed.toLocaleString('en-US')} bytes (heatmaps included)`],
    ['Audit entries walked', String(v.auditEntriesChecked)],
    ['Chain head', v.auditHead ? `entry ${v.auditHead.index}\n${v.auditHead.hash}` : 'no entries', 'mono'],
    ['Issues', v.issues.length ? String(v.issues.length) : 'none'],
    ['Unrecorded files', v.unrecordedFiles.length ? v.unrecordedFiles.join('\n') : 'none', 'mono'],
  ]);
  for (const issue of v.issues) w.text(JSON.stringify(issue), { font: 'mono', size: 6.8, colour: COLOURS.bad, gap: 2 });
  doc.y += 6;
  w.text('The chain head above is the value to keep elsewhere: someone who can rewrite the database could rewrite a whole chain consistently, but not this printed head.', { size: 8, colour: COLOURS.muted });
}

/** "2026-12-01 17:40:00 UTC+01:00 (Europe/Paris)": the wall time where the report was made, and its offset. */
export function formatTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset' })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  const offset = parts.timeZoneName === 'GMT' ? 'UTC' : String(parts.timeZoneName).replace('GMT', 'UTC');
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${offset}${timeZone === 'UTC' ? '' : ` (${timeZone})`}`;
}
