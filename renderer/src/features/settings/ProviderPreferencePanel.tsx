import { useEffect, useState } from 'react';
import { providerPreferenceSchema, type AppSettings, type ExecutionProviderInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';

type ProviderPreference = AppSettings['providerPreference'];

/**
 * Which execution provider analyses and explanations ask for first. The choice is stored in the case
 * store (each change is audited); a provider that cannot run here falls back to the CPU, and every
 * verdict records the provider that actually produced it.
 */
export function ProviderPreferencePanel({ providers }: { providers: ExecutionProviderInfo[] }) {
  const [current, setCurrent] = useState<ProviderPreference | null>(null);
  const [status, setStatus] = useState<{ kind: 'saved' | 'error'; text: string } | null>(null);

  useEffect(() => {
    let live = true;
    getApiClient()
      .call('settings.get', {})
      .then(
        (s) => live && setCurrent(s.providerPreference),
        (e: Error) => live && setStatus({ kind: 'error', text: e.message }),
      );
    return () => {
      live = false;
    };
  }, []);

  async function choose(value: ProviderPreference) {
    const previous = current;
    setCurrent(value);
    try {
      const saved = await getApiClient().call('settings.update', { providerPreference: value });
      setCurrent(saved.providerPreference);
      setStatus({ kind: 'saved', text: `Saved: new analyses ask for ${saved.providerPreference}.` });
    } catch (e) {
      setCurrent(previous);
      setStatus({ kind: 'error', text: (e as Error).message });
    }
  }

  const label = (name: ProviderPreference) => {
    if (name === 'auto') return 'auto (best available, then CPU)';
    const p = providers.find((x) => x.name === name);
    return p && !p.available ? `${name} (not available here: falls back to CPU)` : name;
  };
  return (
    <section aria-labelledby="provider-title">
      <h3 id="provider-title">Execution provider for analyses and explanations</h3>
      {current === null ? (
        status ? null : <p>Loading…</p>
      ) : (
        <select aria-label="Execution provider" data-testid="provider-preference" value={current} onChange={(e) => void choose(e.target.value as ProviderPreference)}>
          {providerPreferenceSchema.options.map((name) => (
            <option key={name} value={name}>
              {label(name)}
            </option>
          ))}
        </select>
      )}
      {status && (
        <p role={status.kind === 'error' ? 'alert' : 'status'} data-testid="provider-preference-status">
          {status.text}
        </p>
      )}
    </section>
  );
}
