// Explanations cached on disk by (image sha256, model sha256, method, target, parameters): an
// examiner reopening evidence, or changing only the overlay's opacity, does not pay for 1000 LIME
// forward passes again. A damaged entry is a miss, never an error.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExplainMethod, ExplainTarget, ExplanationMap } from './explain-types';

export interface CacheKeyParts {
  imageSha256: string;
  modelSha256: string;
  method: ExplainMethod;
  target: ExplainTarget;
  params: Record<string, unknown>;
}

const FORMAT = 1;

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function explanationCacheKey(parts: CacheKeyParts): string {
  return crypto
    .createHash('sha256')
    .update(stableJson({ format: FORMAT, ...parts, target: parts.target.class }))
    .digest('hex');
}

type Meta = Omit<ExplanationMap, 'map' | 'lime'> & {
  format: number;
  map: { height: number; width: number; channels: number };
  lime?: { segmentCount: number; intercept: number; score: number; positive: number[]; negative: number[] };
};

export class ExplanationCache {
  constructor(readonly dir: string) {}

  private files(key: string) {
    const base = path.join(this.dir, key.slice(0, 2), key);
    return { meta: `${base}.json`, data: `${base}.bin` };
  }

  async get(key: string): Promise<ExplanationMap | undefined> {
    const files = this.files(key);
    try {
      const meta = JSON.parse(await fs.readFile(files.meta, 'utf8')) as Meta;
      if (meta.format !== FORMAT) return undefined;
      const bin = await fs.readFile(files.data);
      const { height, width } = meta.map;
      const mapBytes = height * width * 4;
      const copy = new Uint8Array(bin).buffer; // aligned copy
      const data = new Float32Array(copy, 0, height * width);
      const explanation: ExplanationMap = { ...meta, map: { height, width, channels: 1, data } } as ExplanationMap;
      delete (explanation as Partial<Meta>).format;
      if (meta.lime) {
        const segBytes = height * width * 4;
        const k = meta.lime.segmentCount;
        if (bin.length !== mapBytes + segBytes + k * 8) return undefined;
        explanation.lime = {
          ...meta.lime,
          segments: new Int32Array(copy, mapBytes, height * width),
          weights: new Float64Array(copy.slice(mapBytes + segBytes)),
        };
      } else if (bin.length !== mapBytes) return undefined;
      return explanation;
    } catch {
      return undefined;
    }
  }

  async put(key: string, e: ExplanationMap): Promise<void> {
    const files = this.files(key);
    await fs.mkdir(path.dirname(files.meta), { recursive: true });
    const { lime, map, ...rest } = e;
    const meta: Meta = {
      ...rest,
      format: FORMAT,
      map: { height: map.height, width: map.width, channels: 1 },
      ...(lime ? { lime: { segmentCount: lime.segmentCount, intercept: lime.intercept, score: lime.score, positive: lime.positive, negative: lime.negative } } : {}),
    };
    const parts: Uint8Array[] = [new Uint8Array(Float32Array.from(map.data).buffer)];
    if (lime) parts.push(new Uint8Array(Int32Array.from(lime.segments).buffer), new Uint8Array(Float64Array.from(lime.weights).buffer));
    const suffix = `.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    // Data first, then the metadata that makes the entry visible.
    await fs.writeFile(files.data + suffix, Buffer.concat(parts));
    await fs.rename(files.data + suffix, files.data);
    await fs.writeFile(files.meta + suffix, JSON.stringify(meta));
    await fs.rename(files.meta + suffix, files.meta);
  }
}
