// The dashboard model. It is filled from GET sys/report (the same data
// `coffer report` prints) and, when that endpoint is missing, from the
// plain sys endpoints, so both sources render through one view.

import { parseDuration } from './format';

export interface Engine { path: string; type: string; summary: string }
export interface Issued { path: string; count: number; avgTTL: number | null; hourly: number[] | null }
export interface LeaseStats {
  active: number | null;
  renewals: number | null;
  revocations: number | null;
  expired: number | null;
  irrevocable: number | null;
  orphans: number | null;
  markedIrrevocable: number | null;
}
export interface Security {
  rootRotations: string[];
  audit: string[];
  failedLogins: number | null;
  policyViolations: number | null;
}
export interface Dashboard {
  source: 'report' | 'fallback';
  version: string;
  cluster: string;
  sealType: string;
  engines: Engine[];
  credentials: Issued[];
  leases: LeaseStats;
  leasesByPath: { path: string; count: number }[];
  security: Security;
  /** The window the counters cover, e.g. "24h". */
  window: string;
  /** The report as `coffer report` prints it, when the server sends it. */
  text: string;
  /** Start of the counters' window (RFC 3339), when known. */
  since: string;
  /** Report fields this view does not know, shown as they are. */
  extra: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** The first present key among aliases; marks it used. */
function pick(o: Obj | undefined, used: Set<string> | null, ...keys: string[]): unknown {
  if (!o) return undefined;
  for (const k of keys) {
    if (k in o && o[k] !== undefined) {
      used?.add(k);
      return o[k];
    }
  }
  return undefined;
}

function toNum(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function toSeconds(v: unknown): number | null {
  if (typeof v === 'string') return parseDuration(v);
  return toNum(v);
}

function toStr(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(toStr).filter(Boolean).join(', ');
  if (isObj(v)) {
    const s = pick(v, null, 'summary', 'description', 'name', 'path');
    if (s !== undefined) return toStr(s);
    return Object.entries(v).map(([k, x]) => `${k}: ${toStr(x)}`).join(', ');
  }
  return String(v);
}

function rotation(v: unknown): string {
  if (isObj(v) && 'rotated' in v) {
    const name = toStr(pick(v, null, 'name', 'path'));
    if (!v.rotated) return `${name}: not rotated`;
    return `${name}: rotated${v.time ? ' ' + toStr(v.time) : ''}`;
  }
  return toStr(v);
}

function toStrList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(toStr).filter(Boolean);
  if (isObj(v)) return Object.entries(v).map(([k, x]) => (typeof x === 'string' || typeof x === 'number' ? `${k}: ${x}` : `${k}: ${toStr(x)}`));
  const s = toStr(v);
  return s ? [s] : [];
}

function engines(v: unknown): Engine[] {
  const out: Engine[] = [];
  const one = (path: string, x: unknown) => {
    if (isObj(x)) {
      const details = pick(x, null, 'details', 'summary', 'description', 'plugins', 'connections');
      out.push({ path: toStr(pick(x, null, 'path', 'mount')) || path, type: toStr(pick(x, null, 'type')), summary: toStr(details) });
    } else {
      out.push({ path, type: '', summary: toStr(x) });
    }
  };
  if (Array.isArray(v)) v.forEach((x) => one('', x));
  else if (isObj(v)) Object.entries(v).forEach(([k, x]) => one(k, x));
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function hourly(v: unknown): number[] | null {
  if (!Array.isArray(v)) return null;
  const xs = v.map((x) => (isObj(x) ? toNum(pick(x, null, 'count', 'value', 'n')) : toNum(x)) ?? 0);
  return xs.length ? xs : null;
}

function issued(v: unknown): Issued[] {
  const out: Issued[] = [];
  const one = (path: string, x: unknown) => {
    if (isObj(x)) {
      out.push({
        path: toStr(pick(x, null, 'path', 'role', 'name')) || path,
        count: toNum(pick(x, null, 'count', 'total', 'issued')) ?? 0,
        avgTTL: toSeconds(pick(x, null, 'avg_ttl_seconds', 'avg_ttl', 'average_ttl')),
        hourly: hourly(pick(x, null, 'hourly', 'per_hour', 'hours', 'buckets')),
      });
    } else {
      out.push({ path, count: toNum(x) ?? 0, avgTTL: null, hourly: null });
    }
  };
  if (Array.isArray(v)) v.forEach((x) => one('', x));
  else if (isObj(v)) Object.entries(v).forEach(([k, x]) => one(k, x));
  return out;
}

function byPath(v: unknown): { path: string; count: number }[] {
  if (Array.isArray(v)) {
    return v.filter(isObj).map((x) => ({ path: toStr(pick(x, null, 'path', 'mount', 'prefix')), count: toNum(pick(x, null, 'count', 'leases')) ?? 0 }));
  }
  if (isObj(v)) return Object.entries(v).map(([path, c]) => ({ path, count: toNum(c) ?? 0 }));
  return [];
}

/** Builds the dashboard from the data of GET sys/report. */
export function fromReport(data: Obj): Dashboard {
  const used = new Set<string>();
  const ls = pick(data, used, 'lease_status', 'leases') as Obj | undefined;
  const sec = pick(data, used, 'security') as Obj | undefined;
  const lsObj = isObj(ls) ? ls : data;
  const secObj = isObj(sec) ? sec : data;
  const stat = (...keys: string[]) => toNum(pick(lsObj, lsObj === data ? used : null, ...keys));
  const secVal = (...keys: string[]) => pick(secObj, secObj === data ? used : null, ...keys);
  const d: Dashboard = {
    source: 'report',
    version: toStr(pick(data, used, 'version')),
    cluster: toStr(pick(data, used, 'cluster_status', 'cluster', 'ha_status')),
    sealType: toStr(pick(data, used, 'seal_type', 'seal')),
    engines: engines(pick(data, used, 'secrets_engines', 'engines', 'mounts')),
    credentials: issued(pick(data, used, 'credentials_generated', 'credentials', 'issued')),
    leases: {
      active: stat('active', 'active_leases'),
      renewals: stat('renewals_24h', 'renewals'),
      revocations: stat('revocations_24h', 'revocations'),
      expired: stat('expired_24h', 'expired', 'expirations_24h'),
      irrevocable: stat('irrevocable', 'irrevocable_leases'),
      orphans: stat('orphans_cleaned', 'orphans_cleaned_24h', 'orphan_cleanups'),
      markedIrrevocable: stat('marked_irrevocable', 'marked_irrevocable_24h'),
    },
    window: toStr(pick(data, used, 'window')) || '24h',
    text: toStr(pick(data, used, 'text')),
    since: toStr(pick(data, used, 'since', 'generated_at')),
    leasesByPath: byPath(isObj(ls) ? pick(ls, null, 'by_path', 'by_mount', 'counts') : pick(data, used, 'leases_by_path', 'leases_by_mount')),
    security: {
      rootRotations: (() => {
        const r = secVal('root_credentials_rotated', 'root_rotations');
        return Array.isArray(r) ? r.map(rotation).filter(Boolean) : toStrList(r);
      })(),
      audit: toStrList(secVal('audit_logging', 'audit_devices', 'audit')),
      failedLogins: toNum(secVal('failed_authentications_24h', 'failed_authentications', 'failed_logins_24h', 'failed_logins')),
      policyViolations: toNum(secVal('policy_violations_24h', 'policy_violations')),
    },
    extra: {},
  };
  if (isObj(ls) && d.leasesByPath.length === 0) d.leasesByPath = byPath(pick(data, used, 'leases_by_path', 'leases_by_mount'));
  pick(data, used, 'window_seconds');
  for (const [k, v] of Object.entries(data)) if (!used.has(k)) d.extra[k] = v;
  return d;
}

/** What the plain sys endpoints give when sys/report is not there. */
export interface FallbackSources {
  sealStatus: Obj | null;
  health: Obj | null;
  mounts: Obj | null;
  leaseCount: Obj | null;
  irrevocableCount: Obj | null;
  audit: Obj | null;
}

export function fromSys(src: FallbackSources): Dashboard {
  const seal = src.sealStatus ?? {};
  const health = src.health ?? {};
  const sealType = toStr(seal.type);
  const standby = health.standby === true;
  const mounts = src.mounts ?? {};
  const eng: Engine[] = Object.entries(mounts)
    .filter(([, m]) => isObj(m))
    .map(([path, m]) => {
      const mo = m as Obj;
      const opts = isObj(mo.options) ? mo.options : {};
      const version = opts.version ? ` v${toStr(opts.version)}` : '';
      return { path, type: toStr(mo.type), summary: (toStr(mo.type) + version + (mo.description ? ` — ${toStr(mo.description)}` : '')).trim() };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
  const counts = isObj(src.leaseCount?.counts) ? (src.leaseCount!.counts as Obj) : {};
  return {
    source: 'fallback',
    version: toStr(seal.version ?? health.version),
    cluster: toStr(seal.cluster_name) ? `${standby ? 'Standby' : 'Active'} (${toStr(seal.cluster_name)})` : standby ? 'Standby' : '',
    sealType: sealType ? sealType.charAt(0).toUpperCase() + sealType.slice(1) : '',
    engines: eng,
    credentials: [],
    leases: {
      active: toNum(src.leaseCount?.lease_count),
      renewals: null,
      revocations: null,
      expired: null,
      irrevocable: toNum(src.irrevocableCount?.lease_count),
      orphans: null,
      markedIrrevocable: null,
    },
    window: '24h',
    text: '',
    since: '',
    leasesByPath: Object.entries(counts).map(([path, c]) => ({ path, count: toNum(c) ?? 0 })).sort((a, b) => b.count - a.count),
    security: {
      rootRotations: [],
      audit: src.audit ? Object.entries(src.audit).filter(([, v]) => isObj(v)).map(([p, v]) => `${p} (${toStr((v as Obj).type)})`) : [],
      failedLogins: null,
      policyViolations: null,
    },
    extra: {},
  };
}
