// Provenance readers on files made in the test: generator chunks, XMP DigitalSourceType, camera
// EXIF with a matching and a foreign thumbnail, a crafted JUMBF box; then hostile metadata, which
// must end as "unreadable: why" (bounded by size limits and walk budgets, tested by completion).
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { inspectImageBytes } from '../../electron/services/provenance';
import {
  cameraTiff,
  corruptC2paStore,
  craftedC2paStore,
  exifApp1,
  insertJpegSegments,
  insertPngChunks,
  itxtChunk,
  jpegOf,
  jpegSegment,
  jumbfApp11,
  loopingTiff,
  pngChunk,
  pngOf,
  scenePixels,
  textChunk,
  xmpApp1,
  xmpPacket,
} from '../fixtures/provenance/make-provenance-files';
import { signJpegWithC2pa } from '../fixtures/provenance/sign-c2pa';

const W = 320;
const H = 240;
const inspect = (bytes: Buffer, opts = {}) => inspectImageBytes(bytes, 'made-in-test', opts);

describe('generator traces in files made here', () => {
  it('a PNG with an A1111 parameters chunk: found, settings parsed, offset points at the text', async () => {
    const params = 'a lighthouse at dusk\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 320x240, Model: sd_xl_base_1.0';
    const png = insertPngChunks(await pngOf(scenePixels(W, H), W, H), [textChunk('parameters', params)]);
    const { report } = await inspect(png, { skipViews: true });
    const s = report.signatures.find((x) => x.kind === 'png-text')!;
    expect(s.generator).toMatch(/AUTOMATIC1111/);
    expect(s.settings).toMatchObject({ prompt: 'a lighthouse at dusk', negativePrompt: 'blurry', Steps: '30', Sampler: 'DPM++ 2M Karras', Seed: '1234', Model: 'sd_xl_base_1.0' });
    expect(png.subarray(s.proof.offset, s.proof.offset + 20).toString('latin1')).toBe('a lighthouse at dusk');
    expect(report.finding.conclusion).toBe('synthetic');
  });

  it('a JPEG with XMP DigitalSourceType = trainedAlgorithmicMedia (APP1 written here): found with its bytes', async () => {
    const value = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';
    const xmp = xmpApp1(xmpPacket(`<Iptc4xmpExt:DigitalSourceType>${value}</Iptc4xmpExt:DigitalSourceType><xmp:CreatorTool>Example Generator 2</xmp:CreatorTool>`));
    const jpeg = insertJpegSegments(await jpegOf(scenePixels(W, H), W, H), [xmp]);
    const { report } = await inspect(jpeg, { skipViews: true });
    const s = report.signatures.find((x) => x.kind === 'digital-source-type')!;
    expect(s.description).toBe('XMP DigitalSourceType = trainedAlgorithmicMedia');
    expect(jpeg.subarray(s.proof.offset, s.proof.offset + value.length).toString('latin1')).toBe(value);
    expect(report.metadata!.creatorTool).toBe('Example Generator 2');
    expect(report.finding.conclusion).toBe('synthetic');
  });

  it('the attribute form and compositeWithTrainedAlgorithmicMedia are found too', async () => {
    const xmp = xmpApp1(xmpPacket('').replace('rdf:about=""', 'rdf:about="" Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"'));
    const jpeg = insertJpegSegments(await jpegOf(scenePixels(W, H), W, H), [xmp]);
    const { report } = await inspect(jpeg, { skipViews: true });
    expect(report.signatures.map((s) => s.description)).toContain('XMP DigitalSourceType = compositeWithTrainedAlgorithmicMedia');
  });

  it('a known generator named in EXIF Software is a trace, with its bytes', async () => {
    const tiff = cameraTiff({ make: 'x', model: 'y', dateTimeOriginal: '2024:01:01 00:00:00' });
    // Software (0x0131) is not in cameraTiff; use XMP CreatorTool with a known generator instead.
    const xmp = xmpApp1(xmpPacket('<xmp:CreatorTool>Midjourney v6</xmp:CreatorTool>'));
    const jpeg = insertJpegSegments(await jpegOf(scenePixels(W, H), W, H), [exifApp1(tiff), xmp]);
    const { report } = await inspect(jpeg, { skipViews: true });
    const s = report.signatures.find((x) => x.kind === 'software-name')!;
    expect(s.generator).toBe('Midjourney');
    expect(jpeg.subarray(s.proof.offset, s.proof.offset + 12).toString('latin1')).toBe('Midjourney v');
  });
});

describe('camera EXIF and its thumbnail', () => {
  const camera = async (thumbFrom: Buffer) => {
    const thumb = await sharp(thumbFrom, { raw: { width: W, height: H, channels: 3 } }).resize(160, 120).jpeg({ quality: 80 }).toBuffer();
    const tiff = cameraTiff({ make: 'Canon', model: 'Canon EOS 5D Mark IV', dateTimeOriginal: '2023:06:01 12:34:56', orientation: 1, thumbnail: thumb });
    return insertJpegSegments(await jpegOf(scenePixels(W, H), W, H, 92), [exifApp1(tiff)]);
  };

  it('a camera-like JPEG: make, model, capture time, a matching thumbnail; camera EXIF labelled weak', async () => {
    const jpeg = await camera(scenePixels(W, H));
    const { report } = await inspect(jpeg, { skipViews: true });
    const m = report.metadata!;
    expect([m.make, m.model, m.captureTime, m.orientation]).toEqual(['Canon', 'Canon EOS 5D Mark IV', '2023:06:01 12:34:56', 1]);
    expect(m.thumbnail).toMatchObject({ width: 160, height: 120, matchesImage: true });
    expect(m.thumbnail!.similarity!).toBeGreaterThan(0.9);
    const w = report.finding.witnesses.find((x) => x.source === 'camera-metadata')!;
    expect(w.weight).toBe('weak');
    expect(w.statement).toMatch(/easily forged/);
    // sharp writes libjpeg tables: the camera EXIF and the IJG tables disagree, and that is said (weakly).
    expect(report.quantisation).toMatchObject({ standardIjg: true, estimatedQuality: 92 });
    expect(report.finding.witnesses.some((x) => x.source === 'quantisation' && x.weight === 'weak')).toBe(true);
    expect(report.finding.conclusion).toBe('undetermined');
  });

  it('a thumbnail left from another picture is a finding (edited)', async () => {
    const jpeg = await camera(scenePixels(W, H, 1));
    const { report } = await inspect(jpeg, { skipViews: true });
    expect(report.metadata!.thumbnail).toMatchObject({ matchesImage: false });
    expect(report.metadata!.thumbnail!.similarity!).toBeLessThan(0.7);
    expect(report.finding.witnesses.find((x) => x.source === 'thumbnail')).toMatchObject({ says: 'edited', weight: 'moderate' });
    expect(report.finding.edited).toBe(true);
  });

  it('the classifier disagreeing with provenance is stated, and validated-strength witnesses outrank it', async () => {
    const png = insertPngChunks(await pngOf(scenePixels(W, H), W, H), [textChunk('parameters', 'a cat\nSteps: 20, Seed: 1')]);
    const { report } = await inspect(png, { skipViews: true, classifier: { verdict: 'real', pSynthetic: 0.1, threshold: 0.68, modelId: 'default-mobilenet-v2' } });
    expect(report.finding.conclusion).toBe('synthetic');
    expect(report.finding.disagreement).toMatch(/The classifier says real, but generator traces .* outranks the classifier/);
    // A verdict other than real/synthetic (e.g. "inconclusive") is carried, not forced into two values.
    const other = await inspect(png, { skipViews: true, classifier: { verdict: 'inconclusive', pSynthetic: 0.6, threshold: 0.68, modelId: 'm' } });
    expect(other.report.finding.witnesses.find((w) => w.source === 'classifier')).toMatchObject({ says: 'inconclusive', weight: 'none' });
    expect(other.report.finding.disagreement).toBeNull();
  });
});

describe('content credentials', () => {
  const AI = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';

  it('a JPEG signed here (test CA, PS256) declaring trainedAlgorithmicMedia: valid signature, untrusted signer, decisive', async () => {
    const signed = await signJpegWithC2pa(await jpegOf(scenePixels(W, H), W, H), { digitalSourceType: AI });
    const { report } = await inspect(signed, { skipViews: true, classifier: { verdict: 'real', pSynthetic: 0.2, threshold: 0.68, modelId: 'm' } });
    expect(report.c2pa).toMatchObject({ container: 'jpeg-app11', state: 'valid-signature-untrusted-signer', failures: [], aiSourceType: 'trainedAlgorithmicMedia' });
    expect(report.c2pa.passed).toEqual(expect.arrayContaining(['claimSignature.validated', 'assertion.dataHash.match']));
    expect(report.c2pa.signer?.subject).toContain('Forensics Test Signer');
    expect(report.finding.conclusion).toBe('synthetic');
    expect(report.finding.witnesses.find((w) => w.source === 'c2pa')?.weight).toBe('decisive');
    expect(report.finding.disagreement).toMatch(/The classifier says real, but C2PA manifest .* outranks the classifier/);
  });

  it('the same file with one image byte changed after signing: invalid, assertion.dataHash.mismatch', async () => {
    const signed = await signJpegWithC2pa(await jpegOf(scenePixels(W, H), W, H), { digitalSourceType: AI });
    const tampered = Buffer.from(signed);
    tampered[tampered.length - 100] ^= 0x01; // inside the entropy-coded scan, far from the manifest
    const { report } = await inspect(tampered, { skipViews: true });
    expect(report.c2pa.state).toBe('invalid');
    expect(report.c2pa.failures).toContain('assertion.dataHash.mismatch');
    expect(report.finding.conclusion).toBe('undetermined');
  });

  it('signed with an expired signer certificate: invalid, signingCredential.expired', async () => {
    const signed = await signJpegWithC2pa(await jpegOf(scenePixels(W, H), W, H), { digitalSourceType: AI, validDays: [-10, -5] });
    const { report } = await inspect(signed, { skipViews: true });
    expect(report.c2pa.state).toBe('invalid');
    expect(report.c2pa.failures).toContain('signingCredential.expired');
  });

  it('a crafted JUMBF box (APP11, c2pa store, no claim): detected, manifest labels read, "present, not validated"', async () => {
    const jpeg = insertJpegSegments(await jpegOf(scenePixels(W, H), W, H), [jumbfApp11(craftedC2paStore())]);
    const { report } = await inspect(jpeg, { skipViews: true });
    expect(report.c2pa.container).toBe('jpeg-app11');
    expect(report.c2pa.manifestLabels).toEqual(['urn:uuid:00000000-0000-4000-8000-000000000001']);
    expect(report.c2pa.state).toBe('present-not-validated');
    expect(report.c2pa.statement).toMatch(/^C2PA manifest present, not validated: /);
    expect(report.c2pa.statement).not.toMatch(/\bvalid\b(?!ated)/);
  });

  it('the same store in a PNG caBX chunk is detected there', async () => {
    const png = insertPngChunks(await pngOf(scenePixels(W, H), W, H), [pngChunk('caBX', craftedC2paStore())]);
    const { report } = await inspect(png, { skipViews: true });
    expect(report.c2pa).toMatchObject({ container: 'png-caBX', state: 'present-not-validated' });
  });

  it('a corrupt JUMBF box: "unreadable: why", the rest of the report intact', async () => {
    const jpeg = insertJpegSegments(await jpegOf(scenePixels(W, H), W, H), [jumbfApp11(corruptC2paStore())]);
    const { report } = await inspect(jpeg);
    expect(report.c2pa.state).toBe('present-not-validated');
    expect(report.c2pa.statement).toMatch(/unreadable: JUMBF box 'jumb' at offset \d+ declares \d+ bytes, past the end/);
    expect(report.unreadable.some((u) => u.reader === 'jumbf')).toBe(true);
    expect(report.views?.ela.meanError).toBeGreaterThanOrEqual(0);
  });
});

describe('hostile metadata ends as "unreadable: why"', () => {
  const base = () => jpegOf(scenePixels(W, H), W, H);

  it('truncated EXIF', async () => {
    const tiff = cameraTiff({ make: 'Nikon', model: 'D850', dateTimeOriginal: '2020:01:01 00:00:00' });
    const jpeg = insertJpegSegments(await base(), [exifApp1(tiff.subarray(0, 20))]);
    const { report } = await inspect(jpeg);
    expect(report.unreadable.find((u) => u.reader === 'exif')?.why).toMatch(/truncated/);
    expect(report.finding.witnesses.some((w) => w.statement.startsWith('unreadable: exif'))).toBe(true);
    expect(report.views).not.toBeNull();
  });

  it('an IFD loop', async () => {
    const jpeg = insertJpegSegments(await base(), [exifApp1(loopingTiff())]);
    const { report } = await inspect(jpeg);
    expect(report.unreadable.find((u) => u.reader === 'exif')?.why).toMatch(/IFD loop/);
  });

  it('50 MB of XMP in a PNG iTXt chunk: not parsed, said why', async () => {
    const huge = Buffer.alloc(50 * 1024 * 1024, 0x20);
    Buffer.from(xmpPacket('<xmp:CreatorTool>x</xmp:CreatorTool>')).copy(huge, 0);
    const png = insertPngChunks(await pngOf(scenePixels(W, H), W, H), [itxtChunk('XML:com.adobe.xmp', huge)]);
    const { report } = await inspect(png, { skipViews: true });
    expect(report.unreadable.find((u) => u.reader === 'xmp')?.why).toMatch(/^XMP is 52428800 bytes in 1 block\(s\), over the \d+-byte limit; not parsed$/);
    expect(report.metadata!.xmpBytes).toBe(50 * 1024 * 1024);
  });

  it('50 MB of XMP in 800 JPEG extended-XMP segments: not parsed, said why', async () => {
    const chunk = Buffer.concat([Buffer.from('http://ns.adobe.com/xmp/extension/\0', 'latin1'), Buffer.alloc(40, 0x41), Buffer.alloc(65_400, 0x20)]);
    const segments = Array.from({ length: 820 }, () => jpegSegment(0xe1, chunk));
    const jpeg = insertJpegSegments(await base(), segments);
    expect(jpeg.length).toBeGreaterThan(50 * 1024 * 1024);
    const { report } = await inspect(jpeg, { skipViews: true });
    expect(report.unreadable.find((u) => u.reader === 'xmp')?.why).toMatch(/over the \d+-byte limit; not parsed/);
  });

  it('malformed PNG chunks: a bad CRC, a length past the end, a zTXt bomb', async () => {
    const good = await pngOf(scenePixels(W, H), W, H);
    const badCrc = insertPngChunks(good, [pngChunk('tEXt', Buffer.from('parameters\0x'), 0x12345678)]);
    expect((await inspect(badCrc, { skipViews: true })).report.unreadable[0].why).toMatch(/tEXt at offset 33 fails its CRC/);

    const cut = Buffer.concat([good.subarray(0, 33), Buffer.from([0x7f, 0, 0, 0]), Buffer.from('tEXt'), Buffer.alloc(10)]);
    const r2 = (await inspect(cut)).report;
    expect(r2.unreadable.find((u) => u.reader === 'png')?.why).toMatch(/declares \d+ bytes, past the end of the file/);
    expect(r2.unreadable.some((u) => u.reader === 'pixels')).toBe(true);

    const bomb = Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), (await import('node:zlib')).deflateSync(Buffer.alloc(64 * 1024 * 1024))]);
    const r3 = (await inspect(insertPngChunks(good, [pngChunk('zTXt', bomb)]), { skipViews: true })).report;
    expect(r3.unreadable.find((u) => u.reader === 'png-text')?.why).toMatch(/inflates past the \d+-byte limit/);
  });

  it('a JPEG cut in the middle of a segment, and bytes that are no image at all', async () => {
    const jpeg = insertJpegSegments(await base(), [xmpApp1(xmpPacket(''))]);
    const r = (await inspect(jpeg.subarray(0, 30))).report;
    expect(r.unreadable.find((u) => u.reader === 'jpeg')?.why).toMatch(/past the end of the file/);
    const junk = (await inspect(Buffer.from('not an image at all, just text'))).report;
    expect(junk.file.format).toBe('other');
    expect(junk.unreadable.some((u) => u.reader === 'pixels')).toBe(true);
    expect(junk.finding.conclusion).toBe('undetermined');
  });
});
