// Traces that AI image generators write about themselves, each with the bytes that prove it: PNG
// text chunks of Stable Diffusion front ends, IPTC DigitalSourceType values in XMP, and the
// software / creator-tool names of known generators. Their presence is strong; their absence says
// nothing (any re-save strips them).
import type { MetadataSummary } from './image-metadata';
import type { PngStructure } from './png-chunks';
import { excerptBytes, indexOfAscii } from './provenance-limits';

export interface ByteProof {
  offset: number;
  length: number;
  excerpt: string;
}

export interface GeneratorSignature {
  kind: 'png-text' | 'digital-source-type' | 'software-name';
  generator: string;
  /** What the trace says, in a sentence. */
  description: string;
  /** Generation settings read from the trace (prompt, seed, steps, model, ...), when it has them. */
  settings: Record<string, string>;
  proof: ByteProof;
}

export const AI_SOURCE_TYPES = ['trainedAlgorithmicMedia', 'compositeWithTrainedAlgorithmicMedia', 'algorithmicMedia', 'compositeSynthetic'] as const;

// Names that only generators (or their hosts) write into Software / CreatorTool / tEXt Software.
const KNOWN_GENERATORS: { pattern: RegExp; name: string }[] = [
  { pattern: /midjourney/i, name: 'Midjourney' },
  { pattern: /dall[-·.\s]?e/i, name: 'DALL·E' },
  { pattern: /stable[\s-]?diffusion/i, name: 'Stable Diffusion' },
  { pattern: /novelai/i, name: 'NovelAI' },
  { pattern: /firefly/i, name: 'Adobe Firefly' },
  { pattern: /comfyui/i, name: 'ComfyUI' },
  { pattern: /invokeai/i, name: 'InvokeAI' },
  { pattern: /automatic1111|stable-diffusion-webui/i, name: 'AUTOMATIC1111' },
  { pattern: /\bimagen\b/i, name: 'Google Imagen' },
  { pattern: /gemini/i, name: 'Google Gemini' },
  { pattern: /bing image creator|image creator from designer/i, name: 'Microsoft Image Creator' },
  { pattern: /leonardo\.ai/i, name: 'Leonardo.Ai' },
  { pattern: /ideogram/i, name: 'Ideogram' },
  { pattern: /nightcafe/i, name: 'NightCafe' },
  { pattern: /craiyon/i, name: 'Craiyon' },
  { pattern: /\bflux(\.1)?\b/i, name: 'FLUX' },
  { pattern: /amazon[_\s]?(titan|bedrock)/i, name: 'Amazon Titan / Bedrock' },
  { pattern: /openai|chatgpt|gpt-4o/i, name: 'OpenAI' },
];

function proofAt(bytes: Uint8Array, offset: number, length: number): ByteProof {
  return { offset, length, excerpt: excerptBytes(bytes.subarray(offset, offset + Math.min(length, 200))) };
}

/** AUTOMATIC1111 / Forge "parameters": prompt, "Negative prompt: ...", then "Key: value, ..." on the last line. */
export function parseA1111Parameters(text: string): Record<string, string> {
  const lines = text.split('\n');
  const settings: Record<string, string> = {};
  const last = lines.length > 1 && /Steps:\s*\d+/.test(lines[lines.length - 1]) ? lines.pop()! : '';
  const neg = lines.findIndex((l) => l.startsWith('Negative prompt:'));
  settings.prompt = (neg >= 0 ? lines.slice(0, neg) : lines).join('\n').trim();
  if (neg >= 0) settings.negativePrompt = lines.slice(neg).join('\n').replace(/^Negative prompt:\s*/, '').trim();
  for (const m of last.matchAll(/\s*([A-Za-z][\w \-/]*):\s*("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/g)) {
    if (m[1] && m[2] !== undefined) settings[m[1].trim()] = m[2].trim();
  }
  return settings;
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function comfySettings(prompt: any): Record<string, string> {
  const out: Record<string, string> = {};
  if (!prompt || typeof prompt !== 'object') return out;
  // A sampler's positive/negative inputs are [nodeId, slot] links to text-encoder nodes.
  const textOf = (link: unknown) => (Array.isArray(link) ? prompt[String(link[0])]?.inputs?.text : undefined);
  for (const node of Object.values(prompt) as any[]) {
    const t = String(node?.class_type ?? '');
    const inp = node?.inputs ?? {};
    if (/KSampler/.test(t)) {
      for (const k of ['seed', 'steps', 'cfg', 'sampler_name', 'scheduler', 'denoise']) if (inp[k] !== undefined) out[k] = String(inp[k]);
      if (typeof textOf(inp.positive) === 'string') out.prompt = textOf(inp.positive).trim();
      if (typeof textOf(inp.negative) === 'string') out.negativePrompt = textOf(inp.negative).trim();
    }
    if (/CheckpointLoader/.test(t) && inp.ckpt_name) out.model = String(inp.ckpt_name);
  }
  return out;
}

function pick(obj: any, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!obj || typeof obj !== 'object') return out;
  for (const k of keys) if (obj[k] !== undefined && obj[k] !== null) out[k] = typeof obj[k] === 'object' ? JSON.stringify(obj[k]).slice(0, 200) : String(obj[k]);
  return out;
}

function pngTextSignatures(bytes: Uint8Array, png: PngStructure): GeneratorSignature[] {
  const out: GeneratorSignature[] = [];
  const byKey = new Map(png.texts.map((t) => [t.keyword, t]));
  for (const t of png.texts) {
    const proof = proofAt(bytes, t.textOffset, t.compressed ? 200 : t.fullLength);
    proof.excerpt = `${t.type} "${t.keyword}": ${t.text.slice(0, 160).replace(/\n/g, '\\n')}`;
    if (t.keyword === 'parameters') {
      out.push({
        kind: 'png-text',
        generator: 'AUTOMATIC1111 / Stable Diffusion web UI',
        description: `PNG ${t.type} chunk "parameters" in the Stable Diffusion web UI format`,
        settings: parseA1111Parameters(t.text),
        proof,
      });
    } else if (t.keyword === 'prompt' && safeJson(t.text) && typeof safeJson(t.text) === 'object') {
      out.push({ kind: 'png-text', generator: 'ComfyUI', description: `PNG ${t.type} chunk "prompt" holding a ComfyUI node graph`, settings: comfySettings(safeJson(t.text)), proof });
    } else if (t.keyword === 'workflow' && safeJson(t.text)?.nodes) {
      out.push({ kind: 'png-text', generator: 'ComfyUI', description: `PNG ${t.type} chunk "workflow" holding a ComfyUI editor graph`, settings: {}, proof });
    } else if (t.keyword === 'invokeai_metadata' || t.keyword === 'sd-metadata' || t.keyword === 'Dream' || t.keyword === 'invokeai_graph') {
      const meta = safeJson(t.text);
      out.push({
        kind: 'png-text',
        generator: 'InvokeAI',
        description: `PNG ${t.type} chunk "${t.keyword}" written by InvokeAI`,
        settings: pick(meta, ['generation_mode', 'positive_prompt', 'negative_prompt', 'seed', 'steps', 'cfg_scale', 'scheduler', 'width', 'height', 'model']),
        proof,
      });
    } else if (t.keyword === 'Comment' && byKey.get('Software')?.text.trim() === 'NovelAI') {
      const meta = safeJson(t.text);
      out.push({
        kind: 'png-text',
        generator: 'NovelAI',
        description: `PNG ${t.type} chunk "Comment" with NovelAI generation settings (Software = NovelAI)`,
        settings: {
          ...(byKey.get('Description') ? { prompt: byKey.get('Description')!.text } : {}),
          ...pick(meta, ['prompt', 'steps', 'sampler', 'seed', 'strength', 'noise', 'scale', 'uc']),
          ...(byKey.get('Source') ? { source: byKey.get('Source')!.text } : {}),
        },
        proof,
      });
    } else if (t.keyword === 'Software' || t.keyword === 'Source') {
      const g = KNOWN_GENERATORS.find((k) => k.pattern.test(t.text));
      if (g) out.push({ kind: 'software-name', generator: g.name, description: `PNG ${t.type} "${t.keyword}" names ${g.name}`, settings: {}, proof });
    }
  }
  return out;
}

function digitalSourceTypeSignatures(bytes: Uint8Array, metadata: MetadataSummary): GeneratorSignature[] {
  const out: GeneratorSignature[] = [];
  const re = /DigitalSourceType(?:\s*=\s*["']|>|\s*rdf:resource\s*=\s*["'])\s*([^"'<\s]+)/g;
  for (const packet of metadata.xmpPackets) {
    for (const m of packet.text.matchAll(re)) {
      const value = m[1];
      const type = AI_SOURCE_TYPES.find((t) => value.endsWith(`/${t}`) || value === t);
      if (!type) continue;
      // Point at the bytes in the file: search near the packet for the exact value.
      const at = indexOfAscii(bytes, value, packet.offset);
      const offset = at >= 0 ? at : packet.offset;
      out.push({
        kind: 'digital-source-type',
        generator: type === 'algorithmicMedia' ? 'algorithmic (not a trained model)' : 'generative AI (trained algorithmic media)',
        description: `XMP DigitalSourceType = ${type}`,
        settings: { digitalSourceType: value },
        proof: proofAt(bytes, offset, value.length),
      });
    }
  }
  return out;
}

function softwareNameSignatures(bytes: Uint8Array, metadata: MetadataSummary): GeneratorSignature[] {
  const out: GeneratorSignature[] = [];
  for (const [field, value] of [
    ['EXIF Software', metadata.software],
    ['XMP CreatorTool', metadata.creatorTool],
  ] as const) {
    if (!value) continue;
    const g = KNOWN_GENERATORS.find((k) => k.pattern.test(value));
    if (!g) continue;
    const at = indexOfAscii(bytes, value);
    out.push({
      kind: 'software-name',
      generator: g.name,
      description: `${field} names ${g.name}: "${value}"`,
      settings: {},
      proof: at >= 0 ? proofAt(bytes, at, value.length) : { offset: -1, length: 0, excerpt: value.slice(0, 160) },
    });
  }
  return out;
}

export function findGeneratorSignatures(bytes: Uint8Array, png: PngStructure | null, metadata: MetadataSummary): GeneratorSignature[] {
  const fromPng = png ? pngTextSignatures(bytes, png) : [];
  // exifr reports a PNG's tEXt Software as "software" too: the same bytes are one trace, not two.
  const fromNames = softwareNameSignatures(bytes, metadata).filter((s) => !fromPng.some((p) => p.kind === 'software-name' && p.generator === s.generator));
  return [...fromPng, ...digitalSourceTypeSignatures(bytes, metadata), ...fromNames];
}
