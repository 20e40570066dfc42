// The examiner's engine settings, kept in the case store's settings table so that each change lands
// in the global audit chain: which provider was asked for is part of how a verdict was produced.
import type { AppSettings } from '../../shared/api-contract';
import type { CaseStore } from '../case-store';
import { isProviderPreference, type ProviderPreference } from '../engine/execution-providers';

const PROVIDER_PREFERENCE_KEY = 'engine.providerPreference';

export function readProviderPreference(store: CaseStore): ProviderPreference {
  const stored = store.getSetting(PROVIDER_PREFERENCE_KEY);
  return typeof stored === 'string' && isProviderPreference(stored) ? stored : 'auto';
}

export function readSettings(store: CaseStore): AppSettings {
  return { providerPreference: readProviderPreference(store) };
}

/** Writes only what changed, so the audit chain records changes, not saves. */
export function updateSettings(store: CaseStore, update: AppSettings, actor: string): AppSettings {
  const preference: ProviderPreference = update.providerPreference;
  if (preference !== readProviderPreference(store)) store.setSetting(PROVIDER_PREFERENCE_KEY, preference, actor);
  return readSettings(store);
}
