import type { ComponentChildren } from 'preact';
import { ApiError, type Api } from '../api';
import { BarChart, ErrorNote, Loading, PageTitle, useAsync } from '../components';
import { useApi } from '../context';
import { formatTime, formatTTL, num } from '../format';
import { fromReport, fromSys, type Dashboard } from '../report';

async function settle<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch {
    return null;
  }
}

/** Reads sys/report; without it, builds what it can from the plain sys endpoints. */
export async function loadDashboard(api: Api): Promise<Dashboard> {
  try {
    const [data, counts] = await Promise.all([api.read('sys/report'), settle(api.read<{ counts?: Record<string, number> }>('sys/leases/count'))]);
    if (data && Object.keys(data).length > 0) {
      const d = fromReport(data);
      // The report gives totals; the per-path split comes from the lease counts.
      if (d.leasesByPath.length === 0 && counts?.counts) {
        d.leasesByPath = Object.entries(counts.counts).map(([path, count]) => ({ path, count })).sort((a, b) => b.count - a.count);
      }
      return d;
    }
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 405 && e.status !== 400)) throw e;
  }
  const [sealStatus, health, mounts, leaseCount, irrevocableCount, audit] = await Promise.all([
    settle(api.bare<Record<string, unknown>>('GET', 'sys/seal-status')),
    settle(api.raw('sys/health', { standbyok: 'true', perfstandbyok: 'true' }).then((r) => r.body)),
    settle(api.read('sys/mounts')),
    settle(api.read('sys/leases/count')),
    settle(api.read('sys/leases/count', { type: 'irrevocable' })),
    settle(api.read('sys/audit')),
  ]);
  return fromSys({ sealStatus, health, mounts, leaseCount, irrevocableCount, audit });
}

function Stat({ label, value, testid }: { label: string; value: number | null; testid?: string }) {
  return (
    <div class="stat">
      <span class="stat-value" data-testid={testid}>
        {value === null ? '—' : num(value)}
      </span>
      <span class="stat-label">{label}</span>
    </div>
  );
}

function Card({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <article class="card">
      <header>
        <h2>{title}</h2>
      </header>
      {children}
    </article>
  );
}

export function DashboardPage() {
  const api = useApi();
  const { data: d, error, loading, reload } = useAsync(() => loadDashboard(api), [api]);
  return (
    <section>
      <div class="title-row">
        <PageTitle>Dashboard</PageTitle>
        <button type="button" class="secondary outline small" onClick={reload} aria-busy={loading ? 'true' : undefined}>
          Refresh
        </button>
      </div>
      <ErrorNote error={error} />
      {!d && loading && <Loading />}
      {d && <DashboardView d={d} />}
    </section>
  );
}

export function DashboardView({ d }: { d: Dashboard }) {
  return (
    <div class="dashboard" data-testid="dashboard" data-source={d.source}>
      {d.source === 'fallback' && (
        <p class="muted">
          <small>The full report (sys/report) is not available on this server; figures below come from the lease, mount and seal endpoints.</small>
        </p>
      )}
      <div class="summary">
        <div>
          <span class="stat-label">Version</span> <strong>{d.version || '—'}</strong>
        </div>
        <div>
          <span class="stat-label">Cluster</span> <strong>{d.cluster || '—'}</strong>
        </div>
        <div>
          <span class="stat-label">Seal type</span> <strong data-testid="seal-type">{d.sealType || '—'}</strong>
        </div>
        {d.since && (
          <div>
            <span class="stat-label">Counting since</span> <strong>{formatTime(d.since)}</strong>
          </div>
        )}
      </div>
      <div class="cards">
        <Card title="Lease status">
          <div class="stats">
            <Stat label="Active leases" value={d.leases.active} testid="active-leases" />
            <Stat label={`Renewals (${d.window})`} value={d.leases.renewals} />
            <Stat label={`Revocations (${d.window})`} value={d.leases.revocations} />
            <Stat label={`Expired (${d.window})`} value={d.leases.expired} />
            <Stat label="Irrevocable" value={d.leases.irrevocable} testid="irrevocable-leases" />
            <Stat label={`Orphans cleaned (${d.window})`} value={d.leases.orphans} />
            {d.leases.markedIrrevocable !== null && <Stat label={`Marked irrevocable (${d.window})`} value={d.leases.markedIrrevocable} />}
          </div>
          {d.leases.irrevocable ? (
            <p>
              <a href="/ui/leases?irrevocable=1">Review the irrevocable leases</a>
            </p>
          ) : null}
        </Card>
        <Card title="Security">
          <div class="stats">
            <Stat label={`Failed authentications (${d.window})`} value={d.security.failedLogins} testid="failed-logins" />
            <Stat label={`Policy violations (${d.window})`} value={d.security.policyViolations} />
          </div>
          <h3>Audit logging</h3>
          {d.security.audit.length ? (
            <ul>
              {d.security.audit.map((a) => (
                <li key={a}>{a}</li>
              ))}
            </ul>
          ) : (
            <p class="warn">No audit device is enabled.</p>
          )}
          {d.security.rootRotations.length > 0 && (
            <>
              <h3>Root credentials rotated</h3>
              <ul>
                {d.security.rootRotations.map((a) => (
                  <li key={a}>{a}</li>
                ))}
              </ul>
            </>
          )}
        </Card>
      </div>
      <Card title="Secrets engines">
        {d.engines.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {d.engines.map((e) => (
                <tr key={e.path}>
                  <td>
                    <a href={`/ui/secrets/${encodeURIComponent(e.path.replace(/\/$/, ''))}`}>{e.path}</a>
                  </td>
                  <td>{e.summary || e.type}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No secrets engines.</p>
        )}
      </Card>
      <Card title={`Credentials generated (last ${d.window})`}>
        {d.credentials.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Issued</th>
                <th scope="col">Average TTL</th>
                <th scope="col">Per hour</th>
              </tr>
            </thead>
            <tbody>
              {d.credentials.map((c) => (
                <tr key={c.path}>
                  <td>
                    <code>{c.path}</code>
                  </td>
                  <td>{num(c.count)}</td>
                  <td>{c.avgTTL === null ? '—' : formatTTL(c.avgTTL)}</td>
                  <td>{c.hourly ? <BarChart values={c.hourly} label={`Credentials for ${c.path} per hour`} /> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>{d.source === 'report' ? `No credentials were generated in the last ${d.window}.` : 'Per-role figures need the report endpoint.'}</p>
        )}
      </Card>
      <Card title="Active leases per path">
        {d.leasesByPath.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Leases</th>
              </tr>
            </thead>
            <tbody>
              {d.leasesByPath.map((l) => (
                <tr key={l.path}>
                  <td>
                    <a href={`/ui/leases?prefix=${encodeURIComponent(l.path)}`}>{l.path}</a>
                  </td>
                  <td>{num(l.count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No active leases.</p>
        )}
      </Card>
      {d.text && (
        <details class="panel">
          <summary>The report as text</summary>
          <pre class="raw" data-testid="report-text">{d.text}</pre>
        </details>
      )}
      {Object.keys(d.extra).length > 0 && (
        <Card title="More from the report">
          <pre class="raw">{JSON.stringify(d.extra, null, 2)}</pre>
        </Card>
      )}
    </div>
  );
}
