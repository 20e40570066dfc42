// The one typed API contract. Both transports (Electron IPC and the loopback HTTP server) validate
// every request against these schemas before a service sees it, and the renderer's client is typed
// from the same map, so the renderer cannot tell which transport it is talking to.
import { z } from 'zod';

export const executionProviderSchema = z.object({
  name: z.string(),
  bundled: z.boolean(),
  available: z.boolean(),
  reason: z.string().optional(),
});

/** Which execution provider analyses and explanations ask for first; cpu is always the fallback. */
export const providerPreferenceSchema = z.enum(['auto', 'cuda', 'dml', 'coreml', 'webgpu', 'cpu']);

export const settingsSchema = z.object({ providerPreference: providerPreferenceSchema });

export const jobKindSchema = z.enum([
  'files.hash',
  'evidence.import',
  'analysis.run',
  'explanation.run',
  'training.run',
  'dataset.build',
  'evaluation.run',
  'model.threshold',
  'report.export',
]);
export const explainMethodSchema = z.enum(['gradcam', 'ablationcam', 'layercam', 'scorecam', 'lime']);

export const jobStateSchema = z.object({
  id: z.string(),
  kind: jobKindSchema,
  status: z.enum(['running', 'done', 'failed', 'cancelled']),
  progress: z.object({
    done: z.number(),
    total: z.number().nullable(),
    message: z.string().optional(),
    /** Structured progress of the task (training: epoch, batch, loss, valLoss, accuracy, learningRate). */
    detail: z.record(z.unknown()).optional(),
  }),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

const empty = z.object({}).strict();

export const caseSchema = z.object({
  id: z.string(),
  caseNumber: z.string(),
  title: z.string(),
  examiner: z.string(),
  agency: z.string().nullable(),
  createdAt: z.string(),
  closedAt: z.string().nullable(),
  description: z.string().nullable().optional(),
  updatedAt: z.string().nullable().optional(),
});

export const evidenceSchema = z.object({
  id: z.string(),
  caseId: z.string(),
  originalPath: z.string(),
  originalName: z.string(),
  sha256: z.string(),
  sizeBytes: z.number(),
  mimeType: z.string(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  ingestedAt: z.string(),
  ingestedBy: z.string(),
  /** Set at ingest when the pixels do not decode (e.g. a truncated file); the file is kept as evidence. */
  unreadableReason: z.string().nullable().optional(),
});

export const auditEntrySchema = z.object({
  index: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  details: z.record(z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

const imageOrProblemSchema = z.union([
  z.object({ dataUrl: z.string(), width: z.number(), height: z.number() }),
  z.object({ dataUrl: z.null(), problem: z.string() }),
]);

/** Per-method parameters the examiner may set in the viewer; left out, each takes its default. */
export const explainParametersSchema = z
  .object({
    target: z.enum(['synthetic', 'real']).optional(),
    gradcam: z.object({ layer: z.string().min(1).max(200).optional() }).strict().optional(),
    layercam: z.object({ layer: z.string().min(1).max(200).optional() }).strict().optional(),
    scorecam: z.object({ topK: z.number().int().min(1).max(2048).optional() }).strict().optional(),
    lime: z
      .object({ samples: z.number().int().min(10).max(20_000).optional(), segments: z.number().int().min(4).max(500).optional() })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Verdicts the engine gives: "inconclusive" is a score inside the model card's band just below the
 * threshold. Stored analyses keep any string, so a reader must not assume only these three.
 */
export const VERDICTS = ['synthetic', 'real', 'inconclusive'] as const;

export const analysisSchema = z.object({
  id: z.string(),
  evidenceId: z.string(),
  model: z.object({ id: z.string(), sha256: z.string() }),
  provider: z.string(),
  pSynthetic: z.number(),
  verdict: z.string(),
  threshold: z.number(),
  durationMs: z.number(),
  createdAt: z.string(),
  createdBy: z.string(),
});

/** A PDF case report this store issued; its sha256 is in the case's audit chain. */
export const reportSchema = z.object({
  id: z.string(),
  caseId: z.string(),
  fileName: z.string(),
  sha256: z.string(),
  sizeBytes: z.number(),
  pageCount: z.number(),
  evidenceIds: z.array(z.string()),
  exportedAt: z.string(),
  exportedBy: z.string(),
  auditHead: z.object({ index: z.number(), hash: z.string() }).nullable(),
  verifyOk: z.boolean(),
  signed: z.boolean(),
});

const text = (max: number) => z.string().trim().min(1).max(max);

/** What the provenance panel reads of a provenance report; the services' report has more (passthrough). */
export const provenanceReportSchema = z
  .object({
    file: z.object({ name: z.string().nullable(), sha256: z.string(), sizeBytes: z.number(), format: z.string() }).passthrough(),
    metadata: z
      .object({
        make: z.string().nullable(),
        model: z.string().nullable(),
        lens: z.string().nullable(),
        captureTime: z.string().nullable(),
        captureOffset: z.string().nullable(),
        software: z.string().nullable(),
        creatorTool: z.string().nullable(),
        gps: z.object({ latitude: z.number(), longitude: z.number(), altitude: z.number().nullable() }).nullable(),
        orientation: z.number().nullable(),
        iccProfile: z.string().nullable(),
        thumbnail: z.object({ matchesImage: z.boolean().nullable(), similarity: z.number().nullable() }).passthrough().nullable(),
        rows: z.array(z.object({ group: z.string(), name: z.string(), value: z.string() })),
      })
      .passthrough()
      .nullable(),
    quantisation: z.object({ estimatedQuality: z.number().nullable(), standardIjg: z.boolean(), interpretation: z.string() }).passthrough().nullable(),
    signatures: z.array(
      z.object({
        kind: z.string(),
        generator: z.string(),
        description: z.string(),
        settings: z.record(z.string()),
        proof: z.object({ offset: z.number(), length: z.number(), excerpt: z.string() }),
      }),
    ),
    c2pa: z
      .object({
        state: z.string(),
        statement: z.string(),
        claimGenerator: z.string().optional(),
        actions: z.array(z.object({ action: z.string(), digitalSourceType: z.string().optional(), softwareAgent: z.string().optional() }).passthrough()),
        ingredients: z.array(z.object({ title: z.string().optional(), relationship: z.string().optional() }).passthrough()),
        signer: z.object({ subject: z.string(), issuer: z.string(), notBefore: z.string(), notAfter: z.string() }).optional(),
        failures: z.array(z.string()),
      })
      .passthrough(),
    views: z
      .object({
        spectrum: z
          .object({
            size: z.number(),
            radialPower: z.array(z.object({ frequency: z.number(), logPower: z.number() })),
            peaks: z.array(z.object({ fx: z.number(), fy: z.number(), prominence: z.number(), spectrum: z.string(), note: z.string().optional() }).passthrough()),
          })
          .passthrough()
          .nullable(),
        ela: z.object({ quality: z.number(), meanError: z.number(), maxError: z.number(), amplification: z.number() }),
      })
      .passthrough()
      .nullable(),
    unreadable: z.array(z.object({ reader: z.string(), why: z.string() })),
    finding: z.object({
      conclusion: z.string(),
      basis: z.string(),
      headline: z.string(),
      edited: z.boolean(),
      witnesses: z.array(z.object({ source: z.string(), says: z.string(), weight: z.string(), statement: z.string() })),
      weighing: z.array(z.string()),
      disagreement: z.string().nullable(),
    }),
    readerVersions: z.record(z.string()),
  })
  .passthrough();

export const provenanceFindingSchema = z.object({
  id: z.string(),
  evidenceId: z.string(),
  conclusion: z.string(),
  headline: z.string(),
  c2paState: z.string(),
  reportSha256: z.string(),
  readerVersions: z.record(z.string()),
  createdAt: z.string(),
  createdBy: z.string(),
  /** Short plain-text summary (the PDF report's per-item text). */
  summary: z.string(),
  report: provenanceReportSchema,
});

/** A forensic view (log spectrum of the residual, ELA, noise residual) as a PNG data: URL. */
export const provenanceImageSchema = z.object({
  kind: z.enum(['spectrum', 'ela', 'noise']),
  sha256: z.string(),
  dataUrl: z.string(),
  /** Whether the recomputed bytes equal those recorded with the latest finding (null: nothing to compare). */
  matchesRecord: z.boolean().nullable(),
});
const modelIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, 'letters, digits, ".", "_" or "-" (max 80)');
const absolutePath = z.string().trim().min(1).max(4096);
const labelledFolderSchema = z
  .object({ path: absolutePath, generator: z.string().trim().max(100).optional(), modality: z.string().trim().max(100).optional() })
  .strict();
/** Labelled folders (each image read in place) or the bundled training sources (their MANIFEST.csv). */
export const datasetSourceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('folders'),
      real: z.array(labelledFolderSchema).max(50),
      synthetic: z.array(labelledFolderSchema).max(50),
      maxImagesPerFolder: z.number().int().min(1).max(100_000).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('bundled'),
      sourcesDir: absolutePath.optional(),
      limitPerGenerator: z.number().int().min(1).optional(),
      limitReal: z.number().int().min(1).optional(),
    })
    .strict(),
]);
/** Another operating point on the validation ROC: FPR at most x, recall at least y, or a threshold. */
export const operatingPointSchema = z.object({ kind: z.enum(['max-fpr', 'min-recall', 'threshold']), value: z.number().min(0).max(1) }).strict();

export const modelQualitySchema = z.object({ weak: z.boolean(), reasons: z.array(z.string()), floors: z.record(z.number()) });
export const labModelSchema = z.object({
  id: z.string(),
  source: z.enum(['user', 'shipped']),
  active: z.boolean(),
  /** The model card as stored (backbone, head, trainingData, metrics, threshold, sha256, createdAt, createdBy...). */
  card: z.record(z.unknown()),
  quality: modelQualitySchema,
  problem: z.object({ code: z.string(), message: z.string() }).optional(),
});
const splitCountsSchema = z.object({ real: z.number(), synthetic: z.number() });
export const labDatasetSchema = z.object({
  id: z.string(),
  dir: z.string(),
  createdAt: z.string(),
  source: z.enum(['folders', 'bundled']),
  description: z.string(),
  items: z.number(),
  splits: z.object({ train: splitCountsSchema, val: splitCountsSchema, test: splitCountsSchema }),
  generators: z.array(z.object({ generator: z.string(), modality: z.string(), train: z.number(), val: z.number(), test: z.number() })),
  folders: z.array(
    z.object({
      path: z.string(),
      label: z.enum(['real', 'synthetic']),
      generator: z.string(),
      modality: z.string(),
      images: z.number(),
      candidates: z.number(),
      skipped: z.array(z.object({ file: z.string(), reason: z.string() })),
      skippedTotal: z.number(),
    }),
  ),
  written: z.number(),
  reused: z.number(),
});
const modelRefSchema = z.object({ id: z.string(), sha256: z.string() });

export const apiContract = {
  'app.info': {
    request: empty,
    response: z.object({
      name: z.string(),
      version: z.string(),
      dataDir: z.string(),
      platform: z.string(),
      node: z.string(),
      providers: z.array(executionProviderSchema),
    }),
  },
  'engine.providers': {
    request: empty,
    response: z.array(executionProviderSchema),
  },
  'settings.get': {
    request: empty,
    response: settingsSchema,
  },
  /** Stored in the case store; every change is an entry of its global audit chain. */
  'settings.update': {
    request: settingsSchema.strict(),
    response: settingsSchema,
  },
  'jobs.start': {
    request: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('files.hash'), paths: z.array(z.string().min(1)).min(1).max(100_000) }).strict(),
      z
        .object({
          kind: z.literal('evidence.import'),
          caseId: z.string().min(1),
          /** Absolute paths on the machine running the services (the native dialog's, or typed). */
          paths: z.array(z.string().min(1)).max(100_000).optional(),
          /** Files uploaded through POST /api/upload (the browser's picker and drag and drop). */
          uploadIds: z.array(z.string().min(1)).max(100_000).optional(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('explanation.run'),
          evidenceId: z.string().min(1),
          methods: z.array(explainMethodSchema).min(1).max(5).optional(),
          parameters: explainParametersSchema.optional(),
          /** Compute again although the same request is on record (otherwise the record is reused). */
          force: z.boolean().optional(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('training.run'),
          datasetDir: z.string().min(1),
          backbone: z.enum(['mobilenet_v2', 'inception_v3', 'tiny_darknet']),
          features: z.enum(['last', 'mid', 'both', 'taps']).optional(),
          epochs: z.number().int().min(1).max(500).optional(),
          batchSize: z.number().int().min(1).max(4096).optional(),
          learningRate: z.number().positive().max(1).optional(),
          optimizer: z.enum(['adam', 'rmsprop']).optional(),
          excludeModalities: z.array(z.string().min(1)).optional(),
          excludeGenerators: z.array(z.string().min(1)).optional(),
          modelId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).optional(),
          seed: z.number().int().min(0).max(0xffffffff).optional(),
          /** Frozen heads only: train this many heads (seeds seed, seed+1, ...) and average their logits, exported as one head. */
          ensemble: z.number().int().min(1).max(32).optional(),
          /** Frozen heads only: score every image with its mirror (mean of the two logits), as the shipped default does; the card records it. */
          mirror: z.boolean().optional(),
          /** Also run leave-one-generator-out / leave-one-modality-out folds and record them in the model card. */
          leaveOneOut: z.array(z.enum(['generator', 'modality'])).max(2).optional(),
          /** Fine-tune the whole backbone ('all') or its last k blocks with the head, in onnxruntime; 0 or absent = frozen backbone, head only. */
          unfreeze: z.union([z.literal('all'), z.number().int().min(0).max(20)]).optional(),
          // A trained model never becomes active here: activation is models.activate, explicit and audited.
        })
        .strict(),
      z.object({ kind: z.literal('dataset.build'), source: datasetSourceSchema, seed: z.number().int().min(0).max(0xffffffff).optional() }).strict(),
      z
        .object({
          kind: z.literal('evaluation.run'),
          modelId: z.string().min(1).optional(),
          datasetDir: z.string().min(1).optional(),
          split: z.enum(['train', 'val', 'test']),
        })
        .strict(),
      z
        .object({
          kind: z.literal('model.threshold'),
          modelId: z.string().min(1),
          point: operatingPointSchema,
          datasetDir: z.string().min(1).optional(),
          newId: modelIdSchema.optional(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('report.export'),
          caseId: z.string().min(1),
          /** Only these evidence items; all of the case when absent. */
          evidenceIds: z.array(z.string().min(1)).min(1).max(100_000).optional(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('analysis.run'),
          caseId: z.string().min(1),
          onlyMissing: z.boolean().optional(),
          evidenceIds: z.array(z.string().min(1)).min(1).max(100_000).optional(),
          modelId: z.string().min(1).optional(),
        })
        .strict(),
    ]),
    response: z.object({ jobId: z.string() }),
  },
  /** Every registered model with its card and quality assessment; `active` marks the one new analyses use. */
  'models.list': {
    request: empty,
    response: z.array(labModelSchema),
  },
  /** Makes a model active (audited in the global chain). A model below the quality floors needs confirmWeak: true. */
  'models.activate': {
    request: z.object({ id: modelIdSchema, confirmWeak: z.boolean().optional() }).strict(),
    response: z.object({ active: modelRefSchema, previous: modelRefSchema.nullable(), weak: z.boolean(), reasons: z.array(z.string()) }),
  },
  /** Deletes a model that is not active (audited; its card stays in the case store for the verdicts that cite it). */
  'models.delete': {
    request: z.object({ id: modelIdSchema }).strict(),
    response: z.object({ deleted: z.string() }),
  },
  /** Writes one file with the card and the detector (absolute path on this machine). */
  'models.export': {
    request: z.object({ id: modelIdSchema, file: absolutePath, overwrite: z.boolean().optional() }).strict(),
    response: z.object({ file: z.string(), bytes: z.number(), fileSha256: z.string() }),
  },
  /** Imports a model file; refused (MODEL_SHA_MISMATCH) when the detector does not hash to its card. */
  'models.import': {
    request: z.object({ file: absolutePath, id: modelIdSchema.optional() }).strict(),
    response: modelRefSchema,
  },
  /** Datasets the model lab built, newest first, with counts per class, generator and split. */
  'datasets.list': {
    request: empty,
    response: z.array(labDatasetSchema),
  },
  'cases.list': {
    request: empty,
    response: z.array(caseSchema.extend({ evidenceCount: z.number() })),
  },
  'cases.create': {
    request: z
      .object({
        caseNumber: text(100),
        title: text(300),
        examiner: text(200),
        agency: text(200).optional(),
        description: z.string().max(20_000).optional(),
      })
      .strict(),
    response: caseSchema,
  },
  /** Edits a case's descriptive fields; each change is an audit entry of the case with old and new values. */
  'cases.update': {
    request: z
      .object({
        caseId: z.string().min(1),
        caseNumber: text(100).optional(),
        title: text(300).optional(),
        examiner: text(200).optional(),
        agency: z.string().max(200).nullable().optional(),
        description: z.string().max(20_000).nullable().optional(),
      })
      .strict(),
    response: caseSchema,
  },
  'cases.close': { request: z.object({ caseId: z.string().min(1) }).strict(), response: caseSchema },
  'cases.reopen': { request: z.object({ caseId: z.string().min(1) }).strict(), response: caseSchema },
  /** A small picture of the evidence, generated once by the services and cached under the data folder. */
  'evidence.thumbnail': { request: z.object({ evidenceId: z.string().min(1) }).strict(), response: imageOrProblemSchema },
  /** The stored copy at full resolution, for the viewer. */
  'evidence.original': { request: z.object({ evidenceId: z.string().min(1) }).strict(), response: imageOrProblemSchema },
  /** The audit entries of the case that concern one evidence file, oldest first. */
  'evidence.history': { request: z.object({ evidenceId: z.string().min(1) }).strict(), response: z.array(auditEntrySchema) },
  'notes.list': {
    request: z.object({ evidenceId: z.string().min(1) }).strict(),
    response: z.array(z.object({ id: z.string(), body: z.string(), author: z.string(), createdAt: z.string() })),
  },
  /** Saved as a new note (notes are never rewritten), audited with the case's examiner as author. */
  'notes.add': {
    request: z.object({ evidenceId: z.string().min(1), body: z.string().trim().min(1).max(100_000) }).strict(),
    response: z.object({ id: z.string(), body: z.string(), author: z.string(), createdAt: z.string() }),
  },
  'tags.list': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(z.object({ evidenceId: z.string(), tag: z.string() })),
  },
  'tags.add': { request: z.object({ evidenceId: z.string().min(1), tag: text(100) }).strict(), response: z.object({ ok: z.boolean() }) },
  'tags.remove': { request: z.object({ evidenceId: z.string().min(1), tag: text(100) }).strict(), response: z.object({ ok: z.boolean() }) },
  'audit.list': { request: z.object({ caseId: z.string().min(1) }).strict(), response: z.array(auditEntrySchema) },
  /** Re-hashes every stored file and walks the case's audit chain. */
  'audit.verify': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.object({
      ok: z.boolean(),
      verifiedAt: z.string(),
      evidenceChecked: z.number(),
      auditEntriesChecked: z.number(),
      auditHead: z.object({ index: z.number(), hash: z.string() }).nullable(),
      issues: z.array(z.record(z.unknown())),
    }),
  },
  /** The native open dialog (files and folders); only the desktop app has one. */
  'dialog.openEvidence': { request: empty, response: z.object({ paths: z.array(z.string()) }) },
  'evidence.list': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(evidenceSchema),
  },
  'analyses.list': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(analysisSchema),
  },
  /** Analyses that could not run (from the audit chain), the latest per evidence file not analysed since. */
  'analyses.failures': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(z.object({ evidenceId: z.string(), code: z.string(), message: z.string(), at: z.string() })),
  },
  'explanations.list': {
    request: z.object({ evidenceId: z.string().min(1) }).strict(),
    response: z.array(
      z.object({
        id: z.string(),
        method: z.string(),
        parameters: z.record(z.unknown()),
        createdAt: z.string(),
        /** The overlay PNG as a data: URL (allowed by the CSP's img-src). */
        overlay: z.string().nullable(),
        /** Why overlay is null although one was recorded: its file is missing or no longer matches its hash. */
        overlayProblem: z.string().optional(),
      }),
    ),
  },
  'reports.list': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(reportSchema),
  },
  /** The issued PDF, checked against its recorded sha256 before it is handed out. */
  'reports.file': {
    request: z.object({ reportId: z.string().min(1) }).strict(),
    response: z.object({ fileName: z.string(), sha256: z.string(), sizeBytes: z.number(), pdfBase64: z.string() }),
  },
  /** Inspects the stored copy (metadata, generator traces, C2PA, spectrum, ELA, noise) and records the finding. */
  'provenance.inspect': {
    request: z.object({ evidenceId: z.string().min(1), elaQuality: z.number().int().min(50).max(100).optional() }).strict(),
    response: z.object({ finding: provenanceFindingSchema, images: z.array(provenanceImageSchema) }),
  },
  /** Recorded provenance findings of one evidence file, oldest first. */
  'provenance.list': {
    request: z.object({ evidenceId: z.string().min(1) }).strict(),
    response: z.array(provenanceFindingSchema),
  },
  /** The view images of the latest finding, recomputed and checked against its recorded sha256. */
  'provenance.views': {
    request: z.object({ evidenceId: z.string().min(1), elaQuality: z.number().int().min(50).max(100).optional() }).strict(),
    response: z.object({ images: z.array(provenanceImageSchema) }),
  },
  'jobs.get': {
    request: z.object({ jobId: z.string().min(1) }).strict(),
    response: jobStateSchema,
  },
  'jobs.list': {
    request: empty,
    response: z.array(jobStateSchema),
  },
  'jobs.cancel': {
    request: z.object({ jobId: z.string().min(1) }).strict(),
    response: z.object({ cancelled: z.boolean() }),
  },
} as const;

export type ApiContract = typeof apiContract;
export type ApiMethod = keyof ApiContract;
export type ApiRequest<M extends ApiMethod> = z.input<ApiContract[M]['request']>;
export type ApiResponse<M extends ApiMethod> = z.output<ApiContract[M]['response']>;
export type JobState = z.infer<typeof jobStateSchema>;
export type ExecutionProviderInfo = z.infer<typeof executionProviderSchema>;
export type AppSettings = z.infer<typeof settingsSchema>;
export type CaseInfo = z.infer<typeof caseSchema>;
export type EvidenceInfo = z.infer<typeof evidenceSchema>;
export type AnalysisInfo = z.infer<typeof analysisSchema>;
export type AuditEntryInfo = z.infer<typeof auditEntrySchema>;
export type ExplainParameters = z.infer<typeof explainParametersSchema>;

/** What the HTTP transport's POST /api/upload answers for one staged file. */
export interface UploadedFile {
  uploadId: string;
  name: string;
  sizeBytes: number;
  sha256: string;
}
export type ReportInfo = z.infer<typeof reportSchema>;
export type ProvenanceFindingInfo = z.infer<typeof provenanceFindingSchema>;
export type ProvenanceImageInfo = z.infer<typeof provenanceImageSchema>;
export type LabModelInfo = z.infer<typeof labModelSchema>;
export type LabDatasetInfo = z.infer<typeof labDatasetSchema>;
export type OperatingPoint = z.infer<typeof operatingPointSchema>;

/** Events pushed from the services to the renderer (SSE in the browser, webContents.send in Electron). */
export type ApiEvent = { type: 'job'; job: JobState };

export const apiMethods = Object.keys(apiContract) as ApiMethod[];

export function isApiMethod(name: string): name is ApiMethod {
  return Object.prototype.hasOwnProperty.call(apiContract, name);
}

/** Error codes that cross the boundary; the message is for people, the code is for code. */
export type ApiErrorCode =
  | 'UNKNOWN_METHOD'
  | 'INVALID_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN_ORIGIN'
  | 'NOT_FOUND'
  | 'INTERNAL'
  | (string & {});

export interface ApiErrorPayload {
  code: ApiErrorCode;
  message: string;
  details?: unknown;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiErrorPayload };

/** The client both transports give the renderer. */
export interface ForensicApiClient {
  call<M extends ApiMethod>(method: M, request: ApiRequest<M>): Promise<ApiResponse<M>>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  readonly transport: 'electron' | 'http';
  /** Sends one file's bytes to the services (browser transport only: Electron imports by path). */
  upload?(file: Blob, name: string, signal?: AbortSignal): Promise<UploadedFile>;
}

export class ApiCallError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}
