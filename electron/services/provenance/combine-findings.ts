// One finding per evidence item from all the witnesses, saying how they were weighed:
//  1. a C2PA manifest whose signature and hashes validate is the strongest witness for what it
//     declares, and outranks the pixel classifier (its signer is not checked against a trust list,
//     which is said every time);
//  2. generator traces in the file (PNG text chunks, DigitalSourceType, generator names) are strong
//     when present: tools write them, people rarely forge them, but any re-save removes them;
//  3. the pixel classifier is one moderate witness (weak on generators it has not seen);
//  4. camera EXIF is weak (easily forged or copied) and is labelled so; thumbnail mismatches,
//     encoder tables and spectral peaks are hints about editing or resampling, not about origin.
// Disagreement between the classifier and provenance is stated, never hidden.
import type { C2paSummary } from './c2pa-manifest';
import type { GeneratorSignature } from './generator-signatures';
import type { MetadataSummary } from './image-metadata';
import type { QuantisationEstimate } from './jpeg-quantisation';
import type { SpectrumData } from './forensic-views';
import type { UnreadableNote } from './provenance-limits';

export interface ClassifierWitness {
  verdict: string;
  pSynthetic: number;
  threshold: number;
  modelId: string;
}

export type WitnessSays = 'synthetic' | 'camera-capture' | 'edited' | 'no-claim' | 'inconclusive';
export type WitnessWeight = 'decisive' | 'strong' | 'moderate' | 'weak' | 'none';

export interface Witness {
  source: 'c2pa' | 'generator-metadata' | 'classifier' | 'camera-metadata' | 'thumbnail' | 'quantisation' | 'spectrum' | 'unreadable';
  says: WitnessSays;
  weight: WitnessWeight;
  statement: string;
}

export type Conclusion = 'synthetic' | 'camera-capture' | 'undetermined';

export interface CombinedFinding {
  conclusion: Conclusion;
  /** Which witness decided, in words. */
  basis: string;
  headline: string;
  /** Signs of editing or re-saving, whatever the origin. */
  edited: boolean;
  witnesses: Witness[];
  /** How the witnesses were weighed, one sentence each. */
  weighing: string[];
  disagreement: string | null;
}

export interface FindingInputs {
  c2pa: C2paSummary;
  signatures: GeneratorSignature[];
  metadata: MetadataSummary | null;
  quantisation: QuantisationEstimate | null;
  spectrum: SpectrumData | null;
  unreadable: UnreadableNote[];
  classifier?: ClassifierWitness | null;
}

const AI_TYPES = new Set(['trainedAlgorithmicMedia', 'compositeWithTrainedAlgorithmicMedia', 'compositeSynthetic', 'algorithmicMedia']);

function c2paWitnesses(c: C2paSummary): Witness[] {
  if (c.state === 'absent') {
    return c.removedManifestReference ? [{ source: 'c2pa', says: 'edited', weight: 'moderate', statement: c.statement }] : [];
  }
  const gen = c.claimGenerator ? ` (claim generator ${c.claimGenerator})` : '';
  const capture = c.actions.some((a) => a.digitalSourceType?.endsWith('/digitalCapture'));
  if (c.state === 'valid-signature-untrusted-signer') {
    if (c.aiSourceType && AI_TYPES.has(c.aiSourceType)) {
      return [{ source: 'c2pa', says: 'synthetic', weight: 'decisive', statement: `C2PA manifest (validated; signer not checked against a trust list) declares ${c.aiSourceType}${gen}` }];
    }
    if (capture) {
      return [{ source: 'c2pa', says: 'camera-capture', weight: 'strong', statement: `C2PA manifest (validated; signer not checked against a trust list) declares a digital capture${gen}` }];
    }
    const edits = c.actions.filter((a) => a.action !== 'c2pa.created' && a.action !== 'c2pa.opened').map((a) => a.action);
    return [
      {
        source: 'c2pa',
        says: edits.length ? 'edited' : 'no-claim',
        weight: edits.length ? 'moderate' : 'none',
        statement: `C2PA manifest (validated; signer not checked against a trust list)${gen} makes no claim about the source type${edits.length ? `; it records ${edits.join(', ')}` : ''}`,
      },
    ];
  }
  if (c.state === 'invalid') {
    const changed = c.failures.includes('assertion.dataHash.mismatch');
    return [
      {
        source: 'c2pa',
        says: changed ? 'edited' : 'inconclusive',
        weight: changed ? 'moderate' : 'none',
        statement: `C2PA manifest fails validation (${c.failures.join(', ')})${changed ? ': the image bytes were changed after signing' : ''}; its claims${c.aiSourceType ? ` (including ${c.aiSourceType})` : ''} are not relied on`,
      },
    ];
  }
  return [
    {
      source: 'c2pa',
      says: c.aiSourceType ? 'synthetic' : 'inconclusive',
      weight: c.aiSourceType ? 'moderate' : 'none',
      statement: `${c.statement}${c.aiSourceType ? `; it declares ${c.aiSourceType}, unverified` : ''}`,
    },
  ];
}

function classifierWitness(c: ClassifierWitness): Witness {
  const p = c.pSynthetic.toFixed(3);
  const says: WitnessSays = c.verdict === 'synthetic' ? 'synthetic' : c.verdict === 'real' ? 'camera-capture' : 'inconclusive';
  return { source: 'classifier', says, weight: says === 'inconclusive' ? 'none' : 'moderate', statement: `classifier ${c.modelId}: ${c.verdict} (p(synthetic) ${p}, threshold ${c.threshold.toFixed(3)})` };
}

const ORDER: Record<WitnessWeight, number> = { decisive: 4, strong: 3, moderate: 2, weak: 1, none: 0 };

export function combineFindings(inputs: FindingInputs): CombinedFinding {
  const witnesses: Witness[] = [...c2paWitnesses(inputs.c2pa)];
  if (inputs.signatures.length) {
    witnesses.push({
      source: 'generator-metadata',
      says: 'synthetic',
      weight: 'strong',
      statement: `generator traces in the file: ${inputs.signatures.map((s) => `${s.description} at offset ${s.proof.offset}`).join('; ')}`,
    });
  }
  if (inputs.classifier) witnesses.push(classifierWitness(inputs.classifier));
  const m = inputs.metadata;
  if (m && (m.make || m.model)) {
    witnesses.push({
      source: 'camera-metadata',
      says: 'camera-capture',
      weight: 'weak',
      statement: `camera EXIF names ${[m.make, m.model].filter(Boolean).join(' ')}${m.captureTime ? `, captured ${m.captureTime}` : ''}: weak evidence, EXIF is easily forged or copied`,
    });
  }
  if (m?.thumbnail?.matchesImage === false) {
    witnesses.push({
      source: 'thumbnail',
      says: 'edited',
      weight: 'moderate',
      statement: `the embedded EXIF thumbnail shows another picture (similarity ${m.thumbnail.similarity}${m.thumbnail.note ? `; ${m.thumbnail.note}` : ''}): the image was changed after the thumbnail was written`,
    });
  }
  if (inputs.quantisation?.standardIjg && m && (m.make || m.model)) {
    witnesses.push({
      source: 'quantisation',
      says: 'edited',
      weight: 'weak',
      statement: `camera EXIF but ${inputs.quantisation.interpretation}: re-saved by software after the camera, or the EXIF was copied`,
    });
  }
  const periodic = (inputs.spectrum?.peaks ?? []).filter((p) => !p.note?.includes('JPEG') && p.prominence >= 2);
  if (periodic.length) {
    const f = periodic.slice(0, 3).map((p) => `(${p.fx.toFixed(3)}, ${p.fy.toFixed(3)})`).join(', ');
    witnesses.push({
      source: 'spectrum',
      says: 'inconclusive',
      weight: 'weak',
      statement: `periodic spectral peaks at ${f} cycles/pixel: upsampling (as in many generators) or resizing; not proof of either`,
    });
  }
  for (const u of inputs.unreadable) witnesses.push({ source: 'unreadable', says: 'inconclusive', weight: 'none', statement: `unreadable: ${u.reader}: ${u.why}` });

  const ranked = witnesses.filter((w) => w.says === 'synthetic' || w.says === 'camera-capture').sort((a, b) => ORDER[b.weight] - ORDER[a.weight]);
  const top = ranked[0];
  const weighing: string[] = [];
  let conclusion: Conclusion = 'undetermined';
  let basis = 'no witness makes a usable claim about the origin';
  if (top && ORDER[top.weight] >= ORDER.strong) {
    const against = ranked.filter((w) => w.says !== top.says && ORDER[w.weight] >= ORDER[top.weight]);
    if (against.length === 0) {
      conclusion = top.says as Conclusion;
      basis = top.statement;
    } else {
      basis = `witnesses of equal weight disagree: ${top.statement} / ${against[0].statement}`;
    }
  } else if (top && top.source === 'classifier') {
    basis = `only the classifier (moderate, weak on unseen generators) speaks to the origin: ${top.statement}`;
  } else if (top) {
    basis = `only weak witnesses: ${top.statement}`;
  }
  if (witnesses.some((w) => w.source === 'c2pa' && w.weight === 'decisive')) weighing.push('A validated C2PA manifest outranks the classifier and the metadata.');
  if (witnesses.some((w) => w.source === 'generator-metadata')) weighing.push('Generator traces are strong when present; their absence proves nothing (a re-save strips them).');
  if (inputs.classifier) weighing.push('The pixel classifier is one moderate witness; it is weak on generators it was not trained on.');
  if (witnesses.some((w) => w.source === 'camera-metadata')) weighing.push('Camera EXIF is weak evidence: it is easily forged or copied from another file.');
  if (inputs.c2pa.state === 'valid-signature-untrusted-signer') weighing.push('The C2PA signer was not checked against a trust list: the signature proves integrity, not who signed.');
  if (inputs.c2pa.state === 'present-not-validated') weighing.push('A C2PA manifest is present but was not validated, so it is not relied on.');
  if (inputs.unreadable.length) weighing.push(`${inputs.unreadable.length} reader(s) could not read part of the file; see "unreadable".`);

  let disagreement: string | null = null;
  const cls = witnesses.find((w) => w.source === 'classifier');
  if (cls && (cls.says === 'synthetic' || cls.says === 'camera-capture')) {
    const opposed = witnesses.find((w) => w.source !== 'classifier' && (w.says === 'synthetic' || w.says === 'camera-capture') && w.says !== cls.says && w.weight !== 'none');
    if (opposed) {
      const rank = ORDER[opposed.weight] > ORDER[cls.weight] ? 'outranks the classifier' : ORDER[opposed.weight] < ORDER[cls.weight] ? 'is weaker than the classifier' : 'weighs as much as the classifier';
      disagreement = `The classifier says ${cls.says === 'synthetic' ? 'synthetic' : 'real'}, but ${opposed.statement}; that witness ${rank}.`;
    }
  }
  const edited = witnesses.some((w) => w.says === 'edited' && w.weight !== 'none');
  const label = conclusion === 'synthetic' ? 'AI-generated or computer-generated' : conclusion === 'camera-capture' ? 'camera capture' : 'origin undetermined';
  const headline = `${label}: ${basis}${edited ? ' (signs of editing)' : ''}`;
  return { conclusion, basis, headline, edited, witnesses, weighing, disagreement };
}
