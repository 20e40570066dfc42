import { useState } from 'react';
import { AppShell, type Section } from './components/AppShell';
import { CasesView } from './features/cases/CasesView';
import { EvidenceView } from './features/evidence/EvidenceView';
import { ReportsView } from './features/reports/ReportsView';
import { SettingsView } from './features/settings/SettingsView';

export function App() {
  const [caseId, setCaseId] = useState<string | null>(null);
  const [section, setSection] = useState<Section>('cases');
  const openCase = (id: string) => {
    setCaseId(id);
    setSection('evidence');
  };
  return (
    <AppShell section={section} onNavigate={setSection}>
      {section === 'cases' ? (
        <CasesView onOpenCase={openCase} />
      ) : section === 'evidence' ? (
        <EvidenceView caseId={caseId} />
      ) : section === 'reports' ? (
        <ReportsView caseId={caseId} />
      ) : (
        <SettingsView />
      )}
    </AppShell>
  );
}
