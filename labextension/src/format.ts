/**
 * Formatting of figures the server computed (no statistics here: the API
 * returns every figure ready-made, the panel only prints it).
 */

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function formatMs(value: number | null | undefined): string {
  if (!finite(value)) {
    return '–';
  }
  if (value >= 10000) {
    return `${(value / 1000).toFixed(1)} s`;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ms`;
}

export function formatTps(value: number | null | undefined): string {
  if (!finite(value)) {
    return '–';
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} tok/s`;
}

/** A fraction in [0, 1] as a percentage. */
export function formatFraction(value: number | null | undefined): string {
  if (!finite(value)) {
    return '–';
  }
  const percent = value * 100;
  return `${percent === 100 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

export function formatUsd(value: number | null | undefined): string {
  if (!finite(value)) {
    return '–';
  }
  return `$${value < 0.01 ? value.toPrecision(2) : value.toFixed(value < 1 ? 3 : 2)}`;
}

/** The progress of a job as a fraction in [0, 1], or null when unknown. */
export function progressFraction(
  done: number | null | undefined,
  total: number | null | undefined
): number | null {
  if (!finite(done) || !finite(total) || total <= 0) {
    return null;
  }
  return Math.min(Math.max(done / total, 0), 1);
}

/** A short local date-time, or '' for a missing or unparsable one. */
export function formatTime(value: string | null | undefined): string {
  if (!value) {
    return '';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return value;
  }
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit'
      });
}

/** The code cell that loads a run in a notebook. */
export function loadRunCode(runId: string): string {
  // A JSON string literal is a valid Python string literal for any run id.
  return `import llmbench_jupyter as lj\nlj.load(${JSON.stringify(runId)})`;
}
