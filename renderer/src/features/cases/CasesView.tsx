export function CasesView() {
  return (
    <section aria-labelledby="cases-title">
      <h2 id="cases-title">Cases</h2>
      <p>Cases group evidence, analyses and reports. Create and import cases with <code>npm run cli -- case</code>.</p>
    </section>
  );
}
