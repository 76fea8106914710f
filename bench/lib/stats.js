// Summaries of repeated measurements: the median and two spreads, so one noisy sample on
// a shared machine moves neither the figure nor hides how noisy the run was.

/** Linear interpolation between the closest ranks, as numpy's default percentile does. */
function quantile(sorted, fraction) {
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * fraction
  const below = Math.floor(position)
  const above = Math.ceil(position)
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below)
}

export function summarize(samples) {
  const sorted = samples.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted.length > 0 ? sorted[0] : Number.NaN,
    max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
  }
}

/** Samples in random order without repeats, as many as asked (cycling once they run out). */
export function randomPick(items, count) {
  const shuffled = [...items]
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]
  }
  return Array.from({length: count}, (_, i) => shuffled[i % shuffled.length])
}
