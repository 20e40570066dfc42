export function ReportsView() {
  return (
    <section aria-labelledby="reports-title">
      <h2 id="reports-title">Reports</h2>
      <p>PDF case reports are not available yet. A case can be exported as a verified archive with <code>npm run cli -- case export &lt;case&gt; --out &lt;file&gt;</code>.</p>
    </section>
  );
}
