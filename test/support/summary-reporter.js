/**
 * Prints one plain closing line per Jest run ("jest unit: 41 passed, 0 failed"), the format CI reads to know
 * how many tests ran.
 */
class SummaryReporter {
  constructor(globalConfig, options) {
    this.label = (options && options.label) || 'jest';
  }

  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const names = [...new Set(results.testResults.map((r) => r.displayName && r.displayName.name).filter(Boolean))];
    const label = names.length === 1 ? `${this.label} ${names[0]}` : this.label;
    process.stdout.write(
      `\n${label}: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
    );
  }
}

module.exports = SummaryReporter;
