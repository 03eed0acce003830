import { describe, expect, it } from 'vitest';
import { fromReport, fromSys } from './report';

describe('fromReport', () => {
  it('reads the nested layout', () => {
    const d = fromReport({
      version: '1.17.0+coffer.0.1.0',
      cluster_status: 'Standalone',
      seal_type: 'Shamir',
      secrets_engines: { 'database/': 'PostgreSQL (production-postgres)', 'pki_int/': { type: 'pki', summary: 'intermediate CA, 2 roles' } },
      credentials_generated: [{ path: 'database/creds/ro', count: 342, avg_ttl: '1h', hourly: [1, 2, 3] }],
      lease_status: { active: 10, renewals_24h: 4, revocations_24h: 3, expired_24h: 2, irrevocable: 1, orphans_cleaned: 0, by_path: { 'database/creds/ro/': 10 } },
      security: { root_credentials_rotated: { 'database/config/pg': 'yes, 2024-01-01' }, audit_logging: ['file/'], failed_authentications_24h: 5, policy_violations_24h: 6 },
      generated_at: '2024-01-02T00:00:00Z',
    });
    expect(d.version).toBe('1.17.0+coffer.0.1.0');
    expect(d.cluster).toBe('Standalone');
    expect(d.engines.map((e) => [e.path, e.summary])).toEqual([['database/', 'PostgreSQL (production-postgres)'], ['pki_int/', 'intermediate CA, 2 roles']]);
    expect(d.credentials).toEqual([{ path: 'database/creds/ro', count: 342, avgTTL: 3600, hourly: [1, 2, 3] }]);
    expect(d.leases).toEqual({ active: 10, renewals: 4, revocations: 3, expired: 2, irrevocable: 1, orphans: 0, markedIrrevocable: null });
    expect(d.leasesByPath).toEqual([{ path: 'database/creds/ro/', count: 10 }]);
    expect(d.security.rootRotations).toEqual(['database/config/pg: yes, 2024-01-01']);
    expect(d.security.audit).toEqual(['file/']);
    expect(d.security.failedLogins).toBe(5);
    expect(d.security.policyViolations).toBe(6);
    expect(d.extra).toEqual({});
  });

  it('reads a flat layout and maps', () => {
    const d = fromReport({ active_leases: 7, irrevocable_leases: 2, credentials: { 'aws/creds/s3': { count: 89, avg_ttl_seconds: 60 } }, failed_logins: 1 });
    expect(d.leases.active).toBe(7);
    expect(d.leases.irrevocable).toBe(2);
    expect(d.credentials).toEqual([{ path: 'aws/creds/s3', count: 89, avgTTL: 60, hourly: null }]);
    expect(d.security.failedLogins).toBe(1);
    expect(d.extra).toEqual({});
  });
});

describe('fromReport with the server layout', () => {
  it('reads what sys/report sends', () => {
    const d = fromReport({
      version: '1.17.0+coffer.0.1.0',
      cluster_status: 'Standalone',
      seal_type: 'Shamir',
      window: '24h',
      window_seconds: 86400,
      since: '2024-01-01T00:00:00Z',
      text: 'COFFER DYNAMIC SECRETS REPORT',
      secrets_engines: [{ path: 'database/', type: 'database', details: ['PostgreSQL (pg)'], root_configs: ['pg'] }],
      credentials_generated: [{ path: 'database/creds/ro', count: 2, avg_ttl_seconds: 3600, avg_ttl: '1h' }],
      lease_status: { active: 4, irrevocable: 0, renewals: 1, revocations: 2, expired: 3, orphans_cleaned: 0, marked_irrevocable: 5 },
      security: {
        root_rotations: [{ name: 'database/pg', rotated: false, time: null }, { name: 'database/my', rotated: true, time: '2024-01-01T10:00:00Z' }],
        audit_devices: ['file/ (file)'],
        failed_authentications: 1,
        policy_violations: 2,
      },
    });
    expect(d.engines).toEqual([{ path: 'database/', type: 'database', summary: 'PostgreSQL (pg)' }]);
    expect(d.credentials).toEqual([{ path: 'database/creds/ro', count: 2, avgTTL: 3600, hourly: null }]);
    expect(d.leases).toEqual({ active: 4, renewals: 1, revocations: 2, expired: 3, irrevocable: 0, orphans: 0, markedIrrevocable: 5 });
    expect(d.security).toEqual({ rootRotations: ['database/pg: not rotated', 'database/my: rotated 2024-01-01T10:00:00Z'], audit: ['file/ (file)'], failedLogins: 1, policyViolations: 2 });
    expect(d.window).toBe('24h');
    expect(d.text).toBe('COFFER DYNAMIC SECRETS REPORT');
    expect(d.extra).toEqual({});
  });
});

describe('fromSys', () => {
  it('combines the sys endpoints', () => {
    const d = fromSys({
      sealStatus: { type: 'shamir', version: '1.17.0', cluster_name: 'coffer-cluster-1' },
      health: { standby: false },
      mounts: { 'secret/': { type: 'kv', options: { version: '2' } }, 'database/': { type: 'database', description: 'pg' } },
      leaseCount: { lease_count: 3, counts: { 'database/': 2, 'auth/token/': 1 } },
      irrevocableCount: { lease_count: 0 },
      audit: { 'file/': { type: 'file' } },
    });
    expect(d.sealType).toBe('Shamir');
    expect(d.cluster).toBe('Active (coffer-cluster-1)');
    expect(d.engines.map((e) => e.summary)).toEqual(['database — pg', 'kv v2']);
    expect(d.leases.active).toBe(3);
    expect(d.leases.irrevocable).toBe(0);
    expect(d.leasesByPath[0]).toEqual({ path: 'database/', count: 2 });
    expect(d.security.audit).toEqual(['file/ (file)']);
  });
});
