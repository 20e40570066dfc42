import { useEffect, useState } from 'react';
import type { CaseInfo } from '../../electron/shared/api-contract';
import { AppShell, type Section, type Theme } from './components/AppShell';
import { ShortcutHelp } from './components/ShortcutHelp';
import { CasesView } from './features/cases/CasesView';
import { EvidenceView } from './features/evidence/EvidenceView';
import { ProvenancePanel } from './features/evidence/ProvenancePanel';
import { getApiClient } from './api/api-client';
import { AuditView } from './features/audit/AuditView';
import { ReportsView } from './features/reports/ReportsView';
import { SettingsView } from './features/settings/SettingsView';

const THEME_KEY = 'forensic-theme';

export function App() {
  const [openCase, setOpenCase] = useState<CaseInfo | null>(null);
  const [section, setSection] = useState<Section>('cases');
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(THEME_KEY) === 'light' ? 'light' : 'dark'));
  const [help, setHelp] = useState(false);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLElement && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      if (e.key === '?' && !typing) setHelp(true);
      else if (e.key === 'Escape' && help) setHelp(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [help]);
  useEffect(() => {
    // The desktop shell's menu commands (File → New case, Import…, Export report…, Help).
    const onCommand = (e: Event) => {
      const name = (e as CustomEvent<string>).detail;
      if (name === 'new-case') setSection('cases');
      else if (name === 'import') setSection('evidence');
      else if (name === 'export-report') setSection('reports');
      else if (name === 'shortcuts') setHelp(true);
    };
    window.addEventListener('forensic-command', onCommand);
    return () => window.removeEventListener('forensic-command', onCommand);
  }, []);
  const open = (c: CaseInfo) => {
    setOpenCase(c);
    setSection('evidence');
  };
  return (
    <AppShell
      section={section}
      onNavigate={setSection}
      openCase={openCase}
      theme={theme}
      onToggleTheme={() => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))}
      onShowHelp={() => setHelp(true)}
    >
      {section === 'cases' ? (
        <CasesView onOpenCase={open} openCaseId={openCase?.id ?? null} onCaseChanged={(c) => c.id === openCase?.id && setOpenCase(c)} />
      ) : section === 'evidence' ? (
        <EvidenceView
          openCase={openCase}
          onGoToCases={() => setSection('cases')}
          renderProvenancePanel={(evidenceId) => <ProvenancePanel evidenceId={evidenceId} client={getApiClient()} />}
        />
      ) : section === 'audit' ? (
        <AuditView openCase={openCase} onGoToCases={() => setSection('cases')} />
      ) : section === 'reports' ? (
        <ReportsView caseId={openCase?.id ?? null} />
      ) : (
        <SettingsView />
      )}
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
    </AppShell>
  );
}
