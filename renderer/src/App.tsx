import { AppShell } from './components/AppShell';
import { CasesView } from './features/cases/CasesView';
import { EvidenceView } from './features/evidence/EvidenceView';
import { ReportsView } from './features/reports/ReportsView';
import { SettingsView } from './features/settings/SettingsView';

export function App() {
  return (
    <AppShell
      render={(section) =>
        section === 'cases' ? <CasesView /> : section === 'evidence' ? <EvidenceView /> : section === 'reports' ? <ReportsView /> : <SettingsView />
      }
    />
  );
}
