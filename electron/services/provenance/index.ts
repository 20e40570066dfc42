// Provenance and classic forensics: the public surface of this folder.
export { inspectImageBytes, inspectImageFile, readEvidenceBytes } from './inspect-image';
export type { InspectOptions, InspectResult, ProvenanceImages, ProvenanceReport } from './inspect-image';
export type { ClassifierWitness, CombinedFinding, Witness } from './combine-findings';
export { summarizeProvenanceFinding, summarizeStoredProvenanceFinding } from './finding-summary';
export { readerVersions } from './reader-versions';
