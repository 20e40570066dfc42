import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { getApiClient, onTokenChange } from './api/api-client';
import './styles.css';

/** Starts the app afresh when a new token arrives, so nothing keeps showing "wrong token". */
function Root() {
  const [generation, setGeneration] = useState(0);
  useEffect(() => onTokenChange(() => setGeneration((g) => g + 1)), []);
  return <App key={generation} />;
}

getApiClient();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
