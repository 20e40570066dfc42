// Run as its own process by the kill -9 tests: explains one stored evidence file and records the heatmaps.
import { CaseStore } from '../../../electron/services/case-store';
import { explainEvidence } from '../../../electron/services/case-explanation';

const [dataDir, evidenceId] = process.argv.slice(2);
const store = CaseStore.open(dataDir);
try {
  const r = await explainEvidence(store, evidenceId, { dataDir, actor: 'kill-test', methods: ['gradcam', 'ablationcam', 'layercam', 'scorecam'] });
  process.stdout.write(JSON.stringify(r) + '\n');
} finally {
  store.close();
}
