import type { ReactNode } from 'react';
import { getApiClient } from '../api/api-client';
import { useApiCall } from '../api/use-api';

export type Section = 'cases' | 'evidence' | 'reports' | 'settings';
const SECTIONS: Array<{ id: Section; label: string }> = [
  { id: 'cases', label: 'Cases' },
  { id: 'evidence', label: 'Evidence' },
  { id: 'reports', label: 'Reports' },
  { id: 'settings', label: 'Settings' },
];

export function AppShell(props: { section: Section; onNavigate(section: Section): void; children: ReactNode }) {
  const { section, onNavigate: setSection } = props;
  const info = useApiCall('app.info', {});
  return (
    <div className="shell">
      <nav aria-label="Main">
        <h1>AI Image Forensics</h1>
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.id}>
              <button aria-current={section === s.id ? 'page' : undefined} onClick={() => setSection(s.id)}>
                {s.label}
              </button>
            </li>
          ))}
        </ul>
        <footer data-testid="status-line">
          {info.state === 'ready'
            ? `v${info.value.version} · ${info.value.providers.filter((p) => p.available).map((p) => p.name).join(', ')} · ${getApiClient().transport}`
            : info.state === 'error'
              ? `offline: ${info.message}`
              : 'connecting…'}
        </footer>
      </nav>
      <main>{props.children}</main>
    </div>
  );
}
