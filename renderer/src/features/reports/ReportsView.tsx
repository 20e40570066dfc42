export function ReportsView() {
  return (
    <section aria-labelledby="reports-title">
      <h2 id="reports-title">Reports</h2>
      <p>Court-ready PDF case reports.</p>
    </section>
  );
}
