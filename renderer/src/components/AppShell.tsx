import type { ReactNode } from 'react';
import { getApiClient } from '../api/api-client';
import { useApiCall } from '../api/use-api';

export type Section = 'cases' | 'evidence' | 'audit' | 'reports' | 'settings';
const SECTIONS: Array<{ id: Section; label: string }> = [
  { id: 'cases', label: 'Cases' },
  { id: 'evidence', label: 'Evidence' },
  { id: 'audit', label: 'Audit trail' },
  { id: 'reports', label: 'Reports' },
  { id: 'settings', label: 'Settings' },
];

export type Theme = 'dark' | 'light';

export function AppShell(props: {
  section: Section;
  onNavigate(section: Section): void;
  openCase: { caseNumber: string; title: string; examiner: string; closedAt: string | null } | null;
  theme: Theme;
  onToggleTheme(): void;
  onShowHelp(): void;
  children: ReactNode;
}) {
  const { section, onNavigate: setSection } = props;
  const info = useApiCall('app.info', {});
  return (
    <div className="shell">
      <nav aria-label="Main">
        <h1>AI Image Forensics</h1>
        <div className="open-case" data-testid="open-case" aria-live="polite">
          {props.openCase ? (
            <>
              <span className="label">Open case</span>
              <strong>{props.openCase.caseNumber}</strong>
              <span>{props.openCase.title}</span>
              <span className="muted">Examiner: {props.openCase.examiner}</span>
              {props.openCase.closedAt && <span className="badge badge-closed">closed</span>}
            </>
          ) : (
            <span className="muted">No case open</span>
          )}
        </div>
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.id}>
              <button aria-current={section === s.id ? 'page' : undefined} onClick={() => setSection(s.id)}>
                {s.label}
              </button>
            </li>
          ))}
        </ul>
        <div className="nav-tools">
          <button onClick={props.onToggleTheme} aria-label={`Switch to the ${props.theme === 'dark' ? 'light' : 'dark'} theme`}>
            {props.theme === 'dark' ? 'Light theme' : 'Dark theme'}
          </button>
          <button onClick={props.onShowHelp} aria-label="Keyboard shortcuts">
            Shortcuts (?)
          </button>
        </div>
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
