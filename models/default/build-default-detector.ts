// Recreates the shipped default detector at install: fuses the committed head weights
// (models/default/head-weights.json) with the backbone rebuilt from npm (models/backbones/<name>.onnx)
// into models/backbones/default-detector.onnx, and checks every sha256 on the way: the backbone must
// be the one the head was trained on, the head file the one the card names, and the fused file the
// one the card certifies. Idempotent: an existing file with the right sha256 is left alone.
//
//   npx tsx models/default/build-default-detector.ts [--force]
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDetectorOnnx } from '../../electron/services/onnx-graphs';
import { detectorOptionsOfCard, readHeadWeightsFile, SHIPPED_DETECTOR_FILE, type ModelCard } from '../../electron/services/engine/model-registry';

const here = path.dirname(fileURLToPath(import.meta.url));
const backbonesDir = path.resolve(here, '..', 'backbones');
const cardFile = path.join(here, 'model-card.json');
const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

export class DefaultDetectorError extends Error {
  constructor(
    readonly code: 'NO_DEFAULT_HEAD' | 'BACKBONE_MISSING' | 'BACKBONE_MISMATCH' | 'HEAD_MISMATCH' | 'DETECTOR_MISMATCH',
    message: string,
  ) {
    super(message);
    this.name = 'DefaultDetectorError';
  }
}

interface ShippedCard {
  id: string;
  sha256: string;
  backbone: ModelCard['backbone'];
  head: { file?: string; sha256?: string };
  inference?: unknown;
}

export function buildDefaultDetector(options: { force?: boolean; outFile?: string } = {}): { file: string; sha256: string; built: boolean } {
  if (!fs.existsSync(cardFile)) throw new DefaultDetectorError('NO_DEFAULT_HEAD', `${cardFile} is missing: no default head is committed`);
  const card = JSON.parse(fs.readFileSync(cardFile, 'utf8')) as ShippedCard;
  const outFile = options.outFile ?? path.join(backbonesDir, SHIPPED_DETECTOR_FILE);
  if (!options.force && fs.existsSync(outFile) && sha256(fs.readFileSync(outFile)) === card.sha256) {
    return { file: outFile, sha256: card.sha256, built: false };
  }
  const backboneFile = path.join(backbonesDir, `${card.backbone.name}.onnx`);
  if (!fs.existsSync(backboneFile)) {
    throw new DefaultDetectorError('BACKBONE_MISSING', `${backboneFile} is missing; run npx tsx models/build-backbones.ts first`);
  }
  const backbone = fs.readFileSync(backboneFile);
  const backboneSha = sha256(backbone);
  if (card.backbone.sha256 && backboneSha !== card.backbone.sha256) {
    throw new DefaultDetectorError(
      'BACKBONE_MISMATCH',
      `${backboneFile} hashes to ${backboneSha}, but the default head was trained on features of ${card.backbone.sha256}; ` +
        'the npm weights or the converter changed, so the head must be retrained (npm run train -- --backbone ' +
        `${card.backbone.name} --set-default) before it can be trusted`,
    );
  }
  const headFile = path.resolve(here, card.head.file ?? 'head-weights.json');
  const headBytes = fs.readFileSync(headFile);
  if (card.head.sha256 && sha256(headBytes) !== card.head.sha256) {
    throw new DefaultDetectorError('HEAD_MISMATCH', `${headFile} does not hash to the sha256 its model card records (${card.head.sha256})`);
  }
  // The head reads the pooled map of the card's feature layer (an earlier layer when experiments chose one).
  const detector = buildDetectorOnnx(new Uint8Array(backbone), readHeadWeightsFile(headFile), detectorOptionsOfCard(card));
  const detectorSha = sha256(detector);
  if (detectorSha !== card.sha256) {
    throw new DefaultDetectorError('DETECTOR_MISMATCH', `the fused detector hashes to ${detectorSha}, but the model card certifies ${card.sha256}`);
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, detector);
  fs.renameSync(tmp, outFile);
  return { file: outFile, sha256: detectorSha, built: true };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const r = buildDefaultDetector({ force: process.argv.includes('--force') });
    process.stdout.write(`default detector ${r.built ? 'built' : 'up to date'}: ${path.relative(process.cwd(), r.file)} (sha256 ${r.sha256.slice(0, 16)}…)\n`);
  } catch (e) {
    if (e instanceof DefaultDetectorError && e.code === 'NO_DEFAULT_HEAD') {
      process.stdout.write(`${e.message}; skipping\n`);
    } else {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}
