// Preloaded (node --require) by ./boundedRun.ts: writes the process's peak resident set size (kB)
// to the file named by GL_RSS_FILE when it exits, however it exits (process.exit included).
process.on('exit', () => {
  const file = process.env.GL_RSS_FILE;
  if (!file) return;
  try {
    require('node:fs').writeFileSync(file, String(process.resourceUsage().maxRSS));
  } catch {
    // the measurement is best effort: a missing file reads as unknown
  }
});
