export function EvidenceView() {
  return (
    <section aria-labelledby="evidence-title">
      <h2 id="evidence-title">Evidence</h2>
      <p>Evidence files of the open case, with their verdicts and explanation heatmaps.</p>
    </section>
  );
}
