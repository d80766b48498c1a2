/** Ends a bench loudly: every missed target on one line and exit code 1, or one line saying all were met. */
export function printVerdict(misses: string[], allMet: string): void {
  if (misses.length > 0) {
    console.error(`FAILED: ${misses.join('; ')}`);
    process.exitCode = 1;
  } else {
    console.log(allMet);
  }
}
