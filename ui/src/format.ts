// Pure helpers for showing API values.

/** "1h 2m 3s" for a number of seconds; "never" for 0 when zeroIsNever. */
export function formatTTL(seconds: number | null | undefined, zeroIsNever = false): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  let s = Math.max(0, Math.round(seconds));
  if (s === 0) return zeroIsNever ? 'never' : '0s';
  const parts: string[] = [];
  const units: [string, number][] = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  for (const [u, n] of units) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
  }
  return parts.slice(0, 3).join(' ');
}

/**
 * Parses a Vault duration ("90", "90s", "15m", "1h30m", "7d") to seconds;
 * null when it is not one.
 */
export function parseDuration(input: string): number | null {
  const t = input.trim();
  if (t === '') return null;
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const mult: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * mult[m[2]];
    pos = re.lastIndex;
  }
  return pos === t.length && pos > 0 ? Math.round(total) : null;
}

/** A local date and time for an RFC 3339 string; "—" when empty. */
export function formatTime(iso: unknown): string {
  if (typeof iso !== 'string' || !iso || iso.startsWith('0001-')) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** Joins a prefix and a key from a LIST answer. */
export function joinPath(prefix: string, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith('/') ? prefix + key : prefix + '/' + key;
}

/** The parent folder of a lease or KV path ("a/b/c" -> "a/b/"). */
export function parentPath(p: string): string {
  const t = p.endsWith('/') ? p.slice(0, -1) : p;
  const i = t.lastIndexOf('/');
  return i < 0 ? '' : t.slice(0, i + 1);
}

/** Mount paths end in exactly one slash. */
export function normaliseMount(p: string): string {
  const t = p.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return t ? t + '/' : '';
}

/** The line number an error text points at ("line 3", "At 3:5"), if any. */
export function errorLine(message: string): number | null {
  const m = /\bline (\d+)\b/i.exec(message) ?? /\bAt (\d+):\d+/.exec(message);
  return m ? Number(m[1]) : null;
}

/** A file name for downloading a PEM from a name or serial. */
export function pemFileName(base: string, kind: string): string {
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'certificate';
  return `${safe}.${kind}.pem`;
}

/** Splits "a, b ,c" into trimmed non-empty items. */
export function splitList(input: string): string[] {
  return input.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

/** Pretty JSON for showing arbitrary data. */
export function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

/** A number with thousands separators. */
export function num(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US') : '—';
}
