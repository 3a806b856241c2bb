/** Reading Prometheus' text exposition format in tests: one sample's value by name and labels. */

/** The value of the sample `name` whose labels include `labels` (all of them, others allowed); undefined if none. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** The HELP text of metric `name`, if the exposition has one. */
export function helpOf(text: string, name: string): string | undefined {
  return new RegExp(`^# HELP ${name} (.+)$`, 'm').exec(text)?.[1];
}
