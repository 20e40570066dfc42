// Content credentials: the JUMBF found by jumbf-boxes.ts, read and validated with @trustnxt/c2pa-ts
// (pure TypeScript, installs offline). What that library checks, measured on the CAI fixtures: the
// claim signature (COSE), assertion hashes, the data hash over the asset, the timestamp, and the
// signing certificate's profile and validity period. What it does NOT check is the chain of trust:
// its "signingCredential.trusted" only means the certificate is well formed and in date. So a
// manifest that passes is reported as "valid signature and hashes; signer not checked against a
// trust list", never as trusted, and one it cannot validate as "present, not validated".
import { Asset, JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';
import type { JumbfInspection } from './jumbf-boxes';
import { AI_SOURCE_TYPES } from './generator-signatures';
import { PROVENANCE_LIMITS } from './provenance-limits';

export type C2paState =
  /** No JUMBF / C2PA manifest store in the file. */
  | 'absent'
  /** Signature, assertion hashes and data hash all check out; trust in the signer was not evaluated. */
  | 'valid-signature-untrusted-signer'
  /** The validator reported a failure (codes in `failures`). */
  | 'invalid'
  /** A manifest is there but could not be validated (format unsupported, unreadable, timed out). */
  | 'present-not-validated';

export interface C2paAction {
  action: string;
  digitalSourceType?: string;
  softwareAgent?: string;
  when?: string;
}

export interface C2paSummary {
  state: C2paState;
  /** One line for people. */
  statement: string;
  container?: string;
  fileOffsets?: number[];
  jumbfBytes?: number;
  manifestLabels: string[];
  activeManifest?: string;
  claimGenerator?: string;
  title?: string;
  actions: C2paAction[];
  ingredients: { title?: string; relationship?: string; format?: string }[];
  signer?: { subject: string; issuer: string; notBefore: string; notAfter: string };
  /** Validator codes that failed, e.g. assertion.dataHash.mismatch. */
  failures: string[];
  /** Codes that passed, as the validator named them (see the note on "trusted" above). */
  passed: string[];
  /** An AI source type declared in the manifest's actions, if any. */
  aiSourceType?: string;
  /** XMP dcterms:provenance pointing at an embedded manifest that is not there (it was removed). */
  removedManifestReference?: string;
  problem?: string;
}

const VALIDATOR = '@trustnxt/c2pa-ts';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** c2pa-ts throws some errors without a message; say at least what kind of error it was. */
function errorText(e: unknown): string {
  const err = e as Error;
  return err?.message || (err?.constructor?.name && err.constructor.name !== 'Error' ? err.constructor.name : '') || 'no manifest claim or signature could be read';
}

function sourceTypeName(v: string | undefined): string | undefined {
  if (!v) return undefined;
  return v.split('/').pop();
}

function describeManifest(store: ManifestStore): Partial<C2paSummary> {
  const m = store.getActiveManifest();
  if (!m) return {};
  const actions: C2paAction[] = [];
  const ingredients: C2paSummary['ingredients'] = [];
  for (const a of (m.assertions?.assertions ?? []) as any[]) {
    if (Array.isArray(a.actions)) {
      for (const act of a.actions) {
        actions.push({
          action: String(act.action),
          digitalSourceType: act.digitalSourceType ? String(act.digitalSourceType) : undefined,
          softwareAgent: act.softwareAgent?.name ? `${act.softwareAgent.name}${act.softwareAgent.version ? ` ${act.softwareAgent.version}` : ''}` : undefined,
          when: act.when ? String(act.when) : undefined,
        });
      }
    }
    if (String(a.label ?? '').startsWith('c2pa.ingredient')) {
      ingredients.push({ title: a.title, relationship: a.relationship, format: a.format });
    }
  }
  const cert = (m.signature as any)?.signatureData?.certificate;
  const claim: any = m.claim;
  const aiSourceType = actions.map((a) => sourceTypeName(a.digitalSourceType)).find((t) => t && (AI_SOURCE_TYPES as readonly string[]).includes(t));
  return {
    activeManifest: m.label,
    claimGenerator: [claim?.claimGeneratorName, claim?.claimGeneratorVersion].filter(Boolean).join(' ') || undefined,
    title: claim?.title,
    actions,
    ingredients,
    aiSourceType,
    signer: cert
      ? {
          subject: String(cert.subject),
          issuer: String(cert.issuer),
          notBefore: new Date(cert.notBefore).toISOString(),
          notAfter: new Date(cert.notAfter).toISOString(),
        }
      : undefined,
  };
}

function makeAsset(bytes: Uint8Array): Asset | null {
  if (JPEG.canRead(bytes)) return new JPEG(bytes);
  if (PNG.canRead(bytes)) return new PNG(bytes);
  return null;
}

/** XMP's dcterms:provenance "self#jumbf=/c2pa/..." says a manifest was embedded in this file. */
export function manifestReferenceInXmp(xmpPackets: readonly { text: string }[]): string | undefined {
  for (const p of xmpPackets) {
    const m = /dcterms:provenance\s*=\s*["']([^"']*jumbf=[^"']*)["']|<dcterms:provenance>([^<]*jumbf=[^<]*)</.exec(p.text);
    if (m) return m[1] ?? m[2];
  }
  return undefined;
}

export async function readC2pa(bytes: Uint8Array, jumbf: JumbfInspection | null, xmpReference?: string): Promise<C2paSummary> {
  const base: C2paSummary = { state: 'absent', statement: 'no C2PA manifest in the file', manifestLabels: [], actions: [], ingredients: [], failures: [], passed: [] };
  if (!jumbf) {
    if (!xmpReference) return base;
    return {
      ...base,
      removedManifestReference: xmpReference,
      statement: `no C2PA manifest in the file, but its XMP points to one (${xmpReference}): the manifest was removed`,
    };
  }
  const found = {
    ...base,
    container: jumbf.location.container,
    fileOffsets: jumbf.location.fileOffsets,
    jumbfBytes: jumbf.location.bytes.length,
    manifestLabels: jumbf.manifestLabels,
  };
  const notValidated = (why: string, extra: Partial<C2paSummary> = {}): C2paSummary => ({
    ...found,
    ...extra,
    state: 'present-not-validated',
    problem: why,
    statement: `C2PA manifest present, not validated: ${why}`,
  });
  if (jumbf.problem) return notValidated(`unreadable: ${jumbf.problem}`);
  const asset = makeAsset(bytes);
  let store: ManifestStore;
  try {
    store = ManifestStore.read(SuperBox.fromBuffer(jumbf.location.bytes as Uint8Array<ArrayBuffer>));
  } catch (e) {
    return notValidated(`unreadable: ${VALIDATOR} cannot read the manifest store (${errorText(e)})`);
  }
  let described: Partial<C2paSummary> = {};
  try {
    described = describeManifest(store);
  } catch (e) {
    described = { problem: `manifest details unreadable: ${errorText(e)}` };
  }
  if (!asset || jumbf.location.container === 'byte-scan') {
    return notValidated(`${VALIDATOR} validates JPEG and PNG embedding only`, described);
  }
  let result: ValidationResult;
  try {
    result = await withTimeout(store.validate(asset), PROVENANCE_LIMITS.c2paValidationMs, 'C2PA validation');
  } catch (e) {
    return notValidated(errorText(e), described);
  }
  const entries = result.statusEntries as { code: string; success: boolean }[];
  const failures = entries.filter((s) => !s.success).map((s) => s.code);
  const passed = entries.filter((s) => s.success).map((s) => s.code);
  const valid = result.isValid && failures.length === 0;
  const claims = described.aiSourceType ? ` It declares ${described.aiSourceType} (generative AI).` : '';
  return {
    ...found,
    ...described,
    state: valid ? 'valid-signature-untrusted-signer' : 'invalid',
    failures,
    passed,
    statement: valid
      ? `C2PA manifest with a valid signature and matching hashes (${VALIDATOR}); signer not checked against a trust list.${claims}`
      : `C2PA manifest fails validation (${failures.join(', ')}): the file was changed after signing or the credential is bad, so its claims are not relied on.${claims}`,
  };
}

export const C2PA_VALIDATOR = VALIDATOR;
