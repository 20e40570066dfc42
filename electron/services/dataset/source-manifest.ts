// Reading ../shared/datasets/MANIFEST.csv and deciding which files must share a split.
// See ../shared/datasets/README.md ("Splitting and shortcuts"): the split unit is the source image
// (the `source` column without its #crop= / #svg-image= fragment), and the README's groups of
// sources that show one scene or share one input are merged into one unit.
import { DatasetBuildError } from './dataset-errors';

export const MANIFEST_COLUMNS = ['path', 'label', 'modality', 'generator', 'source', 'license', 'width', 'height'] as const;

export type SourceLabel = 'real' | 'synthetic';

export interface SourceRow {
  /** Relative to the sources folder, forward slashes. */
  path: string;
  label: SourceLabel;
  modality: string;
  generator: string;
  /** The source column as written, fragment included. */
  source: string;
  license: string;
  width: number;
  height: number;
  /** 1-based line number in MANIFEST.csv, for error messages. */
  line: number;
}

/** The source column without its `#crop=` or `#svg-image=` fragment: tiles of one sheet share it. */
export function sourceKeyOf(source: string): string {
  const hash = source.indexOf('#');
  return hash < 0 ? source : source.slice(0, hash);
}

export function parseSourceManifest(text: string): SourceRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header !== MANIFEST_COLUMNS.join(',')) {
    throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv header must be "${MANIFEST_COLUMNS.join(',')}", found "${header ?? ''}"`);
  }
  const rows: SourceRow[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '') continue;
    const line = i + 1;
    // The README promises no quoted fields (commas in paths are %2C), so a plain split is exact.
    const fields = raw.split(',');
    if (fields.length !== MANIFEST_COLUMNS.length) {
      throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv line ${line} has ${fields.length} fields, expected ${MANIFEST_COLUMNS.length}`);
    }
    const [filePath, label, modality, generator, source, license, width, height] = fields.map((f) => f.trim());
    if (label !== 'real' && label !== 'synthetic') {
      throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv line ${line}: label "${label}" is neither real nor synthetic`);
    }
    if (!filePath || filePath.startsWith('/') || filePath.split('/').includes('..') || filePath.includes('\\')) {
      throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv line ${line}: path "${filePath}" must be relative and stay inside the sources folder`);
    }
    if (seen.has(filePath)) throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv line ${line}: ${filePath} is listed twice`);
    seen.add(filePath);
    if (!modality || !generator || !source) {
      throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv line ${line}: modality, generator and source must not be empty`);
    }
    const w = Number(width);
    const h = Number(height);
    if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) {
      throw new DatasetBuildError('MANIFEST_INVALID', `MANIFEST.csv line ${line}: size ${width}x${height} is not a positive integer size`);
    }
    rows.push({ path: filePath, label, modality, generator, source, license, width: w, height: h, line });
  }
  if (rows.length === 0) throw new DatasetBuildError('MANIFEST_INVALID', 'MANIFEST.csv lists no images');
  return rows;
}

/**
 * Sources that must stay in one split although their source keys differ, as listed in the
 * datasets README. `origin` is how the source key starts (Debian package or repository), `files`
 * are the last path components of the member sources. Entries with one file document sheets that
 * the source key already keeps together (StyleGAN teaser, SPADE teaser, PyTorch-GAN rows, drin).
 */
export interface SourceGroup {
  name: string;
  origin: string;
  files: readonly string[];
}

const OPENCV = 'opencv-doc=';
const SKIMAGE = 'python3-skimage=';
const DICM = 'Li-Chongyi/Zero-DCE@';
const PYTORCH_GAN = 'eriklindernoren/PyTorch-GAN@';

export const SOURCE_GROUPS: readonly SourceGroup[] = [
  { name: 'opencv aloe stereo pair', origin: OPENCV, files: ['aloeL.jpg', 'aloeR.jpg'] },
  { name: 'opencv basketball frames', origin: OPENCV, files: ['basketball1.png', 'basketball2.png'] },
  { name: 'opencv box and box_in_scene', origin: OPENCV, files: ['box.png', 'box_in_scene.png'] },
  { name: 'opencv graffiti views', origin: OPENCV, files: ['graf1.png', 'graf3.png'] },
  { name: 'opencv leuven exposures', origin: OPENCV, files: ['leuvenA.jpg', 'leuvenB.jpg'] },
  { name: 'opencv left/right stereo pair', origin: OPENCV, files: ['left.jpg', 'right.jpg'] },
  { name: 'opencv rubberwhale frames', origin: OPENCV, files: ['rubberwhale1.png', 'rubberwhale2.png'] },
  { name: 'opencv aero views', origin: OPENCV, files: ['aero1.jpg', 'aero3.jpg'] },
  { name: 'skimage motorcycle stereo pair', origin: SKIMAGE, files: ['motorcycle_left.png', 'motorcycle_right.png'] },
  { name: 'DICM 12-14 one scene, three exposures', origin: DICM, files: ['12.jpg', '13.jpg', '14.jpg'] },
  { name: 'DICM 30 and 31 similar scenes', origin: DICM, files: ['30.jpg', '31.jpg'] },
  { name: 'DICM 57 and 58 similar scenes', origin: DICM, files: ['57.jpg', '58.jpg'] },
  { name: 'stable-diffusion img2img mountains from one sketch', origin: 'CompVis/stable-diffusion@', files: ['mountains-1.png', 'mountains-2.png', 'mountains-3.png'] },
  { name: 'StyleGAN style-mixing teaser', origin: 'NVlabs/stylegan@', files: ['stylegan-teaser.png'] },
  { name: 'SPADE teaser rows share a style, columns a label map', origin: 'NVlabs/SPADE@', files: ['teaser_high_res.jpg'] },
  { name: 'PyTorch-GAN bicyclegan rows share an input', origin: PYTORCH_GAN, files: ['bicyclegan.png'] },
  { name: 'PyTorch-GAN munit rows share an input', origin: PYTORCH_GAN, files: ['munit.png'] },
  { name: 'PyTorch-GAN stargan rows share an input', origin: PYTORCH_GAN, files: ['stargan.png'] },
  { name: 'taming drin depth maps', origin: 'CompVis/taming-transformers@', files: ['drin.jpg'] },
  { name: 'imaginaire UNIT road scenes 01', origin: 'NVlabs/imaginaire@', files: ['summer2winter_01.jpg', 'winter2summer_01.jpg'] },
  { name: 'imaginaire UNIT road scenes 02', origin: 'NVlabs/imaginaire@', files: ['summer2winter_02.jpg', 'winter2summer_02.jpg'] },
  { name: 'Stable Cascade collage_1 and the rodent it was made from', origin: 'Stability-AI/StableCascade@', files: ['collage_1.jpg', 'image-to-image-example-rodent.jpg'] },
  { name: 'Infinity prompt 3 at two model sizes', origin: 'FoundationVision/Infinity@', files: ['3l.jpg', '3r.jpg'] },
  { name: 'Infinity prompt 4 at two model sizes', origin: 'FoundationVision/Infinity@', files: ['4l.jpg', '4r.jpg'] },
  { name: 'SiT visuals share ImageNet classes', origin: 'willisma/SiT@', files: ['visual.png', 'visual_2.png'] },
  { name: 'Kolors depth input of woman 2', origin: 'Kwai-Kolors/Kolors@', files: ['Depth_woman_2.jpg', 'Depth_ipadapter_woman_2.jpg'] },
];

function lastComponent(sourceKey: string): string {
  const afterColon = sourceKey.slice(sourceKey.lastIndexOf(':') + 1);
  return afterColon.slice(afterColon.lastIndexOf('/') + 1);
}

/**
 * README groups that are easier to state as patterns over the source path (the part after the
 * commit's colon), or that span several repositories: identities of real faces, crops of one photo,
 * video sequences, one model's seeds, one LoRA subject. Each member is an origin prefix and a
 * pattern; a group matches a source when any member does.
 */
export interface PatternSourceGroup {
  name: string;
  members: ReadonlyArray<{ origin: string; pattern: RegExp }>;
}

const any = /./;
export const PATTERN_SOURCE_GROUPS: readonly PatternSourceGroup[] = [
  {
    // deepface's celebrities recur across img*; facenet's Angelina Jolie, InstantID's Musk and
    // PhotoMaker's Scarlett Johansson are the same people. The README gives no per-file identity,
    // so the whole collection is one unit.
    name: 'celebrity identities (deepface, facenet-pytorch, InstantID musk, PhotoMaker scarlett)',
    members: [
      { origin: 'serengil/deepface@', pattern: any },
      { origin: 'timesler/facenet-pytorch@', pattern: any },
      { origin: 'instantX-research/InstantID@', pattern: /musk_resize/ },
      { origin: 'TencentARC/PhotoMaker@', pattern: /scarlett/ },
    ],
  },
  { name: 'PhotoMaker yangmi identity', members: [{ origin: 'TencentARC/PhotoMaker@', pattern: /yangmi/ }] },
  { name: 'face_recognition identities (Obama, Biden, Harington, Leslie, Lacamoire)', members: [{ origin: 'ageitgey/face_recognition@', pattern: any }] },
  { name: 'CodeFormer gray_faces Einstein', members: [{ origin: 'sczhou/CodeFormer@', pattern: /gray_faces\/Einstein0[12]\./ }] },
  { name: 'CodeFormer gray_faces Hepburn', members: [{ origin: 'sczhou/CodeFormer@', pattern: /gray_faces\/Hepburn0[12]\./ }] },
  {
    name: 'Solvay conference 1927 photo and its face crops',
    members: [
      { origin: 'sczhou/CodeFormer@', pattern: /Solvay_conference_1927/ },
      { origin: 'yangxy/GPEN@', pattern: /Solvay_conference_1927/ },
    ],
  },
  {
    name: 'GoPro blur sequences (HINet, DeblurGANv2)',
    members: [
      { origin: 'megvii-model/HINet@', pattern: /GOPR0384/ },
      { origin: 'KupynOrest/DeblurGANv2@', pattern: /000027\.png$/ },
    ],
  },
  { name: 'SRN-Deblur 07 and 08', members: [{ origin: 'jiangsutx/SRN-Deblur@', pattern: /testing_set\/0[78]\.png$/ }] },
  { name: 'ResShift lion1/lion2', members: [{ origin: 'zsyOAOA/ResShift@', pattern: /\/lion[12]\./ }] },
  { name: 'ResShift london1/london2', members: [{ origin: 'zsyOAOA/ResShift@', pattern: /\/london[12]\./ }] },
  { name: 'ResShift cat1/cat2', members: [{ origin: 'zsyOAOA/ResShift@', pattern: /\/cat[12]\./ }] },
  {
    name: 'awesome-pretrained-stylegan2 NVIDIA FFHQ config-e and config-f (same seeds)',
    members: [{ origin: 'justinpinkney/awesome-pretrained-stylegan2@', pattern: /faces \(FFHQ config-[ef]\)\// }],
  },
  {
    name: 'StyleGAN2 Obama models trained on the same 100 photos',
    members: [
      { origin: 'justinpinkney/awesome-pretrained-stylegan2@', pattern: /content\/obama\// },
      { origin: 'mit-han-lab/data-efficient-gans@', pattern: /low-shot-comparison/ },
    ],
  },
  { name: 'SAM2 bedroom video', members: [{ origin: 'facebookresearch/sam2@', pattern: /videos\/bedroom\// }] },
  { name: 'mmpose posetrack18 frames', members: [{ origin: 'open-mmlab/mmpose@', pattern: /\/posetrack18\// }] },
  { name: 'mmpose mpii frames', members: [{ origin: 'open-mmlab/mmpose@', pattern: /\/mpii\// }] },
  { name: 'YOLOP dash-cam frames', members: [{ origin: 'hustvl/YOLOP@', pattern: any }] },
  { name: 'ComfyUI_examples recurring prompts and characters', members: [{ origin: 'comfyanonymous/ComfyUI_examples@', pattern: any }] },
  {
    name: 'cloneofsimo LoRA Kiriko subject',
    members: [{ origin: 'cloneofsimo/lora@', pattern: /(lora_pti_example|lora_with_clip_4x4_training_progress|lora_some_tweaks|lora_just_text_encoder|lora_just_unet)\./ }],
  },
];

/** SICE multi-exposure sequences: consecutive numbers are one scene, so 200-number ranges are one unit. */
const SICE_ORIGIN = 'Li-Chongyi/Zero-DCE_extension@';
function siceRangeOf(sourceKey: string): string | undefined {
  if (!sourceKey.startsWith(SICE_ORIGIN)) return undefined;
  const m = /train_data\/(\d+)\.jpg$/.exec(sourceKey);
  if (!m) return undefined;
  const start = Math.floor(Number(m[1]) / 200) * 200;
  return `Zero-DCE_extension SICE sequences ${start}-${start + 199}`;
}

function pathOf(sourceKey: string): string {
  return sourceKey.slice(sourceKey.indexOf(':') + 1);
}

/** The README group a source key belongs to, if any. */
export function sourceGroupOf(sourceKey: string): { name: string } | undefined {
  const file = lastComponent(sourceKey);
  const listed = SOURCE_GROUPS.find((g) => sourceKey.startsWith(g.origin) && g.files.includes(file));
  if (listed) return listed;
  const p = pathOf(sourceKey);
  const patterned = PATTERN_SOURCE_GROUPS.find((g) => g.members.some((m) => sourceKey.startsWith(m.origin) && m.pattern.test(p)));
  if (patterned) return patterned;
  const sice = siceRangeOf(sourceKey);
  return sice ? { name: sice } : undefined;
}

/** The unit that is assigned to one split as a whole: a README group, else the source key. */
export function splitUnitOf(row: Pick<SourceRow, 'source'>): string {
  const key = sourceKeyOf(row.source);
  const group = sourceGroupOf(key);
  return group ? `group:${group.name}` : `source:${key}`;
}

/**
 * Group members that match no row: a typo in SOURCE_GROUPS or a changed manifest. Empty for the
 * full shared manifest (checked by the integration test).
 */
export function unmatchedGroupMembers(rows: readonly SourceRow[]): string[] {
  const keys = new Set(rows.map((r) => sourceKeyOf(r.source)));
  const missing: string[] = [];
  for (const g of SOURCE_GROUPS) {
    for (const file of g.files) {
      const hit = [...keys].some((k) => k.startsWith(g.origin) && lastComponent(k) === file);
      if (!hit) missing.push(`${g.name}: ${file}`);
    }
  }
  for (const g of PATTERN_SOURCE_GROUPS) {
    for (const m of g.members) {
      if (![...keys].some((k) => k.startsWith(m.origin) && m.pattern.test(pathOf(k)))) missing.push(`${g.name}: ${m.origin} ${m.pattern}`);
    }
  }
  return missing;
}

/** Real photos are stratified by collection (file name prefix, e.g. "denoising_datasets__CBSD68"). */
export function realCollectionOf(row: Pick<SourceRow, 'path'>): string {
  const base = row.path.slice(row.path.lastIndexOf('/') + 1);
  const parts = base.split('__');
  return parts.length > 2 ? `${parts[0]}__${parts[1]}` : parts[0];
}

/**
 * Collections of real photographs, for leave-one-real-source-out validation: each is a way real
 * photographs reach an examiner that a detector may never have seen (README sections). Matched by
 * origin prefix and, where one repository feeds two collections, by path.
 */
export const REAL_SOURCES = ['debian-photos', 'wallpapers', 'kodak-cbsd68', 'sun-hays', 'low-light', 'faces', 'degraded', 'everyday'] as const;
export type RealSource = (typeof REAL_SOURCES)[number] | 'other';

const REAL_SOURCE_RULES: ReadonlyArray<{ source: RealSource; origin: string; pattern?: RegExp }> = [
  { source: 'debian-photos', origin: 'opencv-doc=' },
  { source: 'debian-photos', origin: 'python3-skimage=' },
  { source: 'wallpapers', origin: 'mate-backgrounds=' },
  { source: 'wallpapers', origin: 'lomiri-wallpapers-16.04=' },
  { source: 'kodak-cbsd68', origin: 'Zelex/images@' },
  { source: 'kodak-cbsd68', origin: 'majedelhelou/denoising_datasets@', pattern: /CBSD68\// },
  { source: 'sun-hays', origin: 'majedelhelou/denoising_datasets@', pattern: /Sun_Hays80\// },
  { source: 'low-light', origin: 'Li-Chongyi/Zero-DCE@' },
  { source: 'low-light', origin: 'Li-Chongyi/Zero-DCE_extension@' },
  { source: 'low-light', origin: 'weichen582/RetinexNet@' },
  { source: 'low-light', origin: 'cuiziteng/Illumination-Adaptive-Transformer@' },
  // The Solvay group photo goes with its face crops, so one photo never sits on both sides of a fold.
  { source: 'faces', origin: 'yangxy/GPEN@' },
  { source: 'faces', origin: 'XPixelGroup/DiffBIR@', pattern: /\/bfr\// },
  ...['NVlabs/ffhq-dataset@', 'sczhou/CodeFormer@', 'cszn/KAIR@', 'wzhouxiff/RestoreFormer@', 'csxmli2016/DFDNet@', 'ageitgey/face_recognition@', 'serengil/deepface@', 'timesler/facenet-pytorch@', 'TencentARC/PhotoMaker@', 'instantX-research/InstantID@'].map(
    (origin) => ({ source: 'faces' as const, origin }),
  ),
  ...['zsyOAOA/ResShift@', 'xahidbuffon/FUnIE-GAN@', 'MayankSingal/PyTorch-Image-Dehazing@', 'XPixelGroup/DiffBIR@', 'jiangsutx/SRN-Deblur@', 'jiaxi-jiang/FBCNN@', 'megvii-model/HINet@', 'KupynOrest/DeblurGANv2@'].map(
    (origin) => ({ source: 'degraded' as const, origin }),
  ),
  ...[
    'open-mmlab/mmpose@', 'xuebinqin/U-2-Net@', 'CMU-Perceptual-Computing-Lab/openpose@', 'DepthAnything/Depth-Anything-V2@', 'LiheYoung/Depth-Anything@', 'WongKinYiu/yolov7@',
    'hustvl/YOLOP@', 'danielgatis/rembg@', 'eriklindernoren/PyTorch-YOLOv3@', 'facebookresearch/segment-anything@', 'facebookresearch/sam2@', 'pjreddie/darknet@',
    'MVIG-SJTU/AlphaPose@', 'IDEA-Research/GroundingDINO@', 'nianticlabs/monodepth2@', 'lllyasviel/ControlNet-v1-1-nightly@',
  ].map((origin) => ({ source: 'everyday' as const, origin })),
];

/** The collection a real photograph's source key belongs to ('other' for a source the rules do not know). */
export function realSourceOf(sourceKey: string): RealSource {
  const p = pathOf(sourceKey);
  const rule = REAL_SOURCE_RULES.find((r) => sourceKey.startsWith(r.origin) && (!r.pattern || r.pattern.test(p)));
  return rule?.source ?? 'other';
}
