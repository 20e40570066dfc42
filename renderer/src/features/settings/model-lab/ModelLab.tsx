import { useCallback, useEffect, useState } from 'react';
import type { LabDatasetInfo, LabModelInfo } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';
import { DatasetPanel } from './DatasetPanel';
import { EvaluationPanel, type EvaluationRequest } from './EvaluationPanel';
import { RegistryPanel } from './RegistryPanel';
import { ThresholdPanel } from './ThresholdPanel';
import { TrainingPanel } from './TrainingPanel';
import './model-lab.css';

/**
 * The model lab: labelled folders → dataset → training with live curves → evaluation with plots →
 * the registry, where the examiner chooses the active detector (explicit, audited) → thresholds.
 */
export function ModelLab() {
  const [dataset, setDataset] = useState<LabDatasetInfo | null>(null);
  const [datasets, setDatasets] = useState<LabDatasetInfo[]>([]);
  const [models, setModels] = useState<LabModelInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [evaluation, setEvaluation] = useState<EvaluationRequest | null>(null);

  const refresh = useCallback(() => {
    const client = getApiClient();
    client.call('models.list', {}).then(
      (m) => (setModels(m), setError(null)),
      (e: Error) => setError(e.message),
    );
    client.call('datasets.list', {}).then(setDatasets, () => undefined);
  }, []);
  useEffect(refresh, [refresh]);

  const evaluate = (modelId: string, datasetDir?: string, scroll = false) =>
    setEvaluation({ modelId, split: 'test', ...(datasetDir ? { datasetDir } : {}), runKey: Date.now(), scroll });

  return (
    <section aria-labelledby="lab-title" className="lab">
      <h3 id="lab-title">Model lab</h3>
      <p className="lab-hint">Retrain the detector from labelled folders, see how it does, and choose which model answers new analyses.</p>
      {error && <p role="alert">{error}</p>}
      <DatasetPanel
        dataset={dataset}
        onDataset={(d) => {
          setDataset(d);
          refresh();
        }}
      />
      <TrainingPanel
        dataset={dataset}
        onTrained={(id) => {
          refresh();
          evaluate(id, dataset?.dir);
        }}
      />
      <EvaluationPanel models={models} datasets={datasets} request={evaluation} />
      <RegistryPanel models={models} onChanged={refresh} onEvaluate={(id) => evaluate(id, undefined, true)} />
      <ThresholdPanel models={models} onSaved={refresh} />
    </section>
  );
}
