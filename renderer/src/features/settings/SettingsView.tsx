import { useApiCall } from '../../api/use-api';
import { ProviderPreferencePanel } from './ProviderPreferencePanel';
import { ModelLab } from './model-lab/ModelLab';

export function SettingsView() {
  const info = useApiCall('app.info', {});
  if (info.state === 'loading') return <p>Loading…</p>;
  if (info.state === 'error') return <p role="alert">Could not reach the services: {info.message}</p>;
  const { value } = info;
  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <dl className="facts">
        <dt>Version</dt>
        <dd data-testid="app-version">{value.version}</dd>
        <dt>Data directory</dt>
        <dd data-testid="data-dir">{value.dataDir}</dd>
        <dt>Platform</dt>
        <dd>{value.platform} · Node {value.node}</dd>
      </dl>
      <h3>Execution providers</h3>
      <table className="grid" data-testid="providers">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Available</th>
            <th>Note</th>
          </tr>
        </thead>
        <tbody>
          {value.providers.map((p) => (
            <tr key={p.name}>
              <td>{p.name}</td>
              <td>{p.available ? 'yes' : 'no'}</td>
              <td>{p.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <ProviderPreferencePanel providers={value.providers} />
      <ModelLab />
    </section>
  );
}
