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

export const jobKindSchema = z.enum(['files.hash', 'evidence.import', 'analysis.run', 'explanation.run', 'training.run']);
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
});

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

const text = (max: number) => z.string().trim().min(1).max(max);

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
        .object({ kind: z.literal('evidence.import'), caseId: z.string().min(1), paths: z.array(z.string().min(1)).min(1).max(100_000) })
        .strict(),
      z
        .object({
          kind: z.literal('explanation.run'),
          evidenceId: z.string().min(1),
          methods: z.array(explainMethodSchema).min(1).max(5).optional(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('training.run'),
          datasetDir: z.string().min(1),
          backbone: z.enum(['mobilenet_v2', 'inception_v3', 'tiny_darknet']),
          features: z.enum(['last', 'mid', 'both']).optional(),
          epochs: z.number().int().min(1).max(500).optional(),
          batchSize: z.number().int().min(1).max(4096).optional(),
          learningRate: z.number().positive().max(1).optional(),
          optimizer: z.enum(['adam', 'rmsprop']).optional(),
          excludeModalities: z.array(z.string().min(1)).optional(),
          excludeGenerators: z.array(z.string().min(1)).optional(),
          modelId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).optional(),
          setDefault: z.boolean().optional(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('analysis.run'),
          caseId: z.string().min(1),
          onlyMissing: z.boolean().optional(),
          modelId: z.string().min(1).optional(),
        })
        .strict(),
    ]),
    response: z.object({ jobId: z.string() }),
  },
  'cases.list': {
    request: empty,
    response: z.array(caseSchema.extend({ evidenceCount: z.number() })),
  },
  'cases.create': {
    request: z
      .object({ caseNumber: text(100), title: text(300), examiner: text(200), agency: text(200).optional() })
      .strict(),
    response: caseSchema,
  },
  'evidence.list': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(evidenceSchema),
  },
  'analyses.list': {
    request: z.object({ caseId: z.string().min(1) }).strict(),
    response: z.array(analysisSchema),
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
