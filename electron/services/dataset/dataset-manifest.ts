// The dataset manifest (<outDir>/manifest.json): one entry per 256×256 item, read by training and
// evaluation. Validated on read so a hand-edited or truncated manifest fails with a clear error.
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DatasetBuildError } from './dataset-errors';
import { SPLITS } from './split-plan';

export const DATASET_MANIFEST_FORMAT = 'ai-image-forensics/dataset';
export const DATASET_MANIFEST_VERSION = 1;
export const DATASET_MANIFEST_FILE = 'manifest.json';

const boxSchema = z.object({ left: z.number(), top: z.number(), width: z.number(), height: z.number() });

export const datasetItemSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{20}$/),
  /** Relative to the dataset folder, forward slashes. */
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  split: z.enum(SPLITS),
  label: z.enum(['real', 'synthetic']),
  /** 1 = synthetic, 0 = real: the training target. */
  target: z.union([z.literal(0), z.literal(1)]),
  modality: z.string(),
  generator: z.string(),
  /** Source column without fragment: no two splits share one. */
  sourceKey: z.string(),
  /** Source column as in MANIFEST.csv, fragment included. */
  source: z.string(),
  /** The README group or source the split was decided for. */
  splitUnit: z.string(),
  /** Path of the source file relative to the sources folder. */
  originalPath: z.string(),
  license: z.string(),
  sourceSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Source size after EXIF orientation. */
  sourceWidth: z.number().int().positive(),
  sourceHeight: z.number().int().positive(),
  cropIndex: z.number().int().nonnegative(),
  /**
   * History matched across the classes before resizing (absent in pipeline 1 datasets): the source
   * downscaled to this short side, then JPEG-encoded at this quality; null = not applied.
   */
  history: z
    .object({
      nativeShortSide: z.number().int().positive().nullable(),
      jpegQuality: z.number().int().min(1).max(100).nullable(),
    })
    .optional(),
  /** Size the whole source was resized to before cropping. */
  resize: z.object({ width: z.number().int().positive(), height: z.number().int().positive(), shortSide: z.number().int().positive() }),
  /** The 256×256 window in the resized image. */
  crop: boxSchema,
  /** The same window in source pixels. */
  sourceBox: boxSchema,
  augmentation: z.object({
    /** Downscaled to this side and back up to 256 (both classes alike), or null. */
    rescaleVia: z.number().int().positive().nullable(),
    blurSigma: z.number().positive().nullable(),
    grayscale: z.boolean(),
    /** JPEG re-encoding quality, or null when the item was never JPEG-encoded here. */
    jpegQuality: z.number().int().min(1).max(100).nullable(),
  }),
  /** Each generator (and the real class) counts equally within a split; mean 1 per split. */
  sampleWeight: z.number().nonnegative(),
});

export type DatasetItem = z.infer<typeof datasetItemSchema>;

export const datasetManifestSchema = z.object({
  format: z.literal(DATASET_MANIFEST_FORMAT),
  version: z.literal(DATASET_MANIFEST_VERSION),
  pipelineVersion: z.number().int(),
  params: z.record(z.unknown()),
  sourcesManifestSha256: z.string(),
  counts: z.record(z.object({ real: z.number(), synthetic: z.number(), generators: z.array(z.string()) })),
  items: z.array(datasetItemSchema),
});

export type DatasetManifest = z.infer<typeof datasetManifestSchema>;

export async function readDatasetManifest(datasetDir: string): Promise<DatasetManifest> {
  const file = path.join(datasetDir, DATASET_MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetBuildError(
      code === 'ENOENT' ? 'SOURCES_NOT_FOUND' : 'DATASET_INVALID',
      code === 'ENOENT' ? `No dataset manifest at ${file}; build one with npm run dataset` : `Cannot read ${file}: ${(e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DatasetBuildError('DATASET_INVALID', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = datasetManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DatasetBuildError('DATASET_INVALID', `${file} is not a dataset manifest: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
