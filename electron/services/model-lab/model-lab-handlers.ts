// The model lab's API methods (the registry and built datasets); long work (dataset builds,
// training, evaluation, threshold versions) runs as jobs in job-tasks.ts.
import type { ApiMethod, ApiRequest, ApiResponse } from '../../shared/api-contract';
import type { CaseStore } from '../case-store';
import { listLabDatasets } from './lab-datasets';
import { activateModel, deleteModel, exportModel, importModel, listLabModels } from './lab-models';

type LabMethod = 'models.list' | 'models.activate' | 'models.delete' | 'models.export' | 'models.import' | 'datasets.list';
type Handlers = { [M in LabMethod & ApiMethod]: (request: ApiRequest<M>) => Promise<ApiResponse<M>> };

export function createModelLabHandlers(options: { dataDir: string; caseStore: () => CaseStore; actor: string }): Handlers {
  const ctx = () => ({ dataDir: options.dataDir, store: options.caseStore(), actor: options.actor });
  return {
    async 'models.list'() {
      return (await listLabModels({ dataDir: options.dataDir })).map((m) => ({ ...m, card: m.card as Record<string, unknown> }));
    },
    async 'models.activate'(request) {
      return activateModel(ctx(), request);
    },
    async 'models.delete'(request) {
      return deleteModel(ctx(), request);
    },
    async 'models.export'(request) {
      return exportModel(ctx(), request);
    },
    async 'models.import'(request) {
      return importModel(ctx(), request);
    },
    async 'datasets.list'() {
      return listLabDatasets(options.dataDir);
    },
  };
}
