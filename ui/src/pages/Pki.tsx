import { useState } from 'preact/hooks';
import { download, ErrorNote, Loading, Notice, SecretValue, useAsync } from '../components';
import { useApi } from '../context';
import { formatTime, parseDuration, pemFileName, splitList } from '../format';

interface IssuerList {
  keys?: string[];
  key_info?: Record<string, { issuer_name?: string; is_default?: boolean }>;
}

interface Issued {
  certificate: string;
  private_key?: string;
  issuing_ca?: string;
  ca_chain?: string[];
  serial_number?: string;
  expiration?: number;
}

export function PkiEngine({ mount }: { mount: string }) {
  const api = useApi();
  const issuers = useAsync(async () => (await api.call<IssuerList>('LIST', `${mount}issuers`).catch(() => null))?.data ?? {}, [api, mount]);
  const roles = useAsync(() => api.list(`${mount}roles`), [api, mount]);
  const [notice, setNotice] = useState('');
  const [issuer, setIssuer] = useState<string | null>(null);
  const [role, setRole] = useState<string | null>(null);
  const [issueFor, setIssueFor] = useState<string | null>(null);
  const ids = issuers.data?.keys ?? [];
  return (
    <div class="pki">
      {notice && <Notice>{notice}</Notice>}
      <div class="grid two">
        <article>
          <header>
            <h2>Issuers</h2>
          </header>
          <ErrorNote error={issuers.error} />
          {issuers.loading && <Loading />}
          {ids.length > 0 ? (
            <ul class="names">
              {ids.map((id) => {
                const info = issuers.data?.key_info?.[id];
                return (
                  <li key={id}>
                    <button type="button" class="link" onClick={() => setIssuer(id)}>
                      {info?.issuer_name || id}
                    </button>
                    {info?.is_default && <small class="muted"> (default)</small>}
                  </li>
                );
              })}
            </ul>
          ) : (
            !issuers.loading && <GenerateRoot mount={mount} onDone={(m) => { setNotice(m); issuers.reload(); }} />
          )}
        </article>
        <article>
          <header class="title-row">
            <h2>Roles</h2>
            <button type="button" class="secondary outline small" onClick={() => setRole('')}>
              New role
            </button>
          </header>
          <ErrorNote error={roles.error} />
          {roles.data && (roles.data.length ? (
            <table>
              <tbody>
                {roles.data.map((n) => (
                  <tr key={n}>
                    <th scope="row">
                      <button type="button" class="link" onClick={() => setRole(n)}>
                        {n}
                      </button>
                    </th>
                    <td>
                      <button type="button" class="small" onClick={() => setIssueFor(n)}>
                        Issue certificate
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p>No roles yet.</p>)}
        </article>
      </div>
      {issuer && <IssuerView key={issuer} mount={mount} id={issuer} onClose={() => setIssuer(null)} />}
      {role !== null && <PkiRoleForm key={role} mount={mount} name={role} onClose={() => setRole(null)} onSaved={(m) => { setNotice(m); setRole(null); roles.reload(); }} />}
      {issueFor && <IssueForm key={issueFor} mount={mount} role={issueFor} onClose={() => setIssueFor(null)} />}
    </div>
  );
}

function GenerateRoot({ mount, onDone }: { mount: string; onDone: (msg: string) => void }) {
  const api = useApi();
  const [cn, setCn] = useState('');
  const [ttl, setTtl] = useState('87600h');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await api.write(`${mount}root/generate/internal`, { common_name: cn, ttl });
          onDone(`Generated a root CA for ${cn}.`);
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <p>No issuer yet. Generate a root CA whose key never leaves the server:</p>
      <label>
        Common name
        <input name="common_name" required value={cn} onInput={(e) => setCn(e.currentTarget.value)} />
      </label>
      <label>
        TTL
        <input name="ttl" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
      </label>
      <ErrorNote error={error} />
      <button type="submit" disabled={busy}>
        Generate root
      </button>
    </form>
  );
}

function IssuerView({ mount, id, onClose }: { mount: string; id: string; onClose: () => void }) {
  const api = useApi();
  const res = useAsync(() => api.read<{ certificate?: string; issuer_name?: string; ca_chain?: string[] }>(`${mount}issuer/${id}`), [api, mount, id]);
  const d = res.data;
  return (
    <article>
      <header class="title-row">
        <h2>Issuer {d?.issuer_name || id}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <ErrorNote error={res.error} />
      {d?.certificate && (
        <>
          <pre class="pem">{d.certificate}</pre>
          <button type="button" class="secondary" onClick={() => download(pemFileName(d.issuer_name || id, 'ca'), d.certificate!.trim() + '\n')}>
            Download PEM
          </button>
        </>
      )}
    </article>
  );
}

function PkiRoleForm({ mount, name, onClose, onSaved }: { mount: string; name: string; onClose: () => void; onSaved: (m: string) => void }) {
  const api = useApi();
  const isNew = name === '';
  const cur = useAsync(async () => (isNew ? null : await api.read<Record<string, unknown>>(`${mount}roles/${name}`)), [api, mount, name]);
  const [form, setForm] = useState<Record<string, string | boolean> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const r = cur.data;
  const f =
    form ??
    (cur.loading && !isNew
      ? null
      : {
          name,
          allowed_domains: ((r?.allowed_domains as string[] | undefined) ?? []).join(', '),
          allow_subdomains: Boolean(r?.allow_subdomains),
          allow_any_name: Boolean(r?.allow_any_name),
          ttl: r?.ttl ? `${r.ttl}s` : '',
          max_ttl: r?.max_ttl ? `${r.max_ttl}s` : '72h',
          key_type: String(r?.key_type ?? 'ec'),
        });
  const set = (k: string, v: string | boolean) => setForm({ ...(f ?? {}), [k]: v });
  return (
    <article>
      <header class="title-row">
        <h2>{isNew ? 'New PKI role' : `PKI role ${name}`}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      {!f && <Loading />}
      {f && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const n = String(f.name).trim();
              await api.write(`${mount}roles/${n}`, {
                allowed_domains: splitList(String(f.allowed_domains)),
                allow_subdomains: f.allow_subdomains,
                allow_any_name: f.allow_any_name,
                ttl: String(f.ttl) || undefined,
                max_ttl: String(f.max_ttl) || undefined,
                key_type: f.key_type,
              });
              onSaved(`Saved PKI role ${n}.`);
            } catch (err) {
              setError(err);
            }
          }}
        >
          <label>
            Name
            <input name="name" required readOnly={!isNew} value={String(f.name)} onInput={(e) => set('name', e.currentTarget.value)} />
          </label>
          <label>
            Allowed domains
            <input name="allowed_domains" placeholder="example.com" value={String(f.allowed_domains)} onInput={(e) => set('allowed_domains', e.currentTarget.value)} />
          </label>
          <label>
            <input type="checkbox" name="allow_subdomains" checked={Boolean(f.allow_subdomains)} onChange={(e) => set('allow_subdomains', e.currentTarget.checked)} />
            Allow subdomains
          </label>
          <label>
            <input type="checkbox" name="allow_any_name" checked={Boolean(f.allow_any_name)} onChange={(e) => set('allow_any_name', e.currentTarget.checked)} />
            Allow any name
          </label>
          <div class="grid">
            <label>
              TTL
              <input name="ttl" value={String(f.ttl)} aria-invalid={String(f.ttl) !== '' && parseDuration(String(f.ttl)) === null ? 'true' : undefined} onInput={(e) => set('ttl', e.currentTarget.value)} />
            </label>
            <label>
              Max TTL
              <input name="max_ttl" value={String(f.max_ttl)} onInput={(e) => set('max_ttl', e.currentTarget.value)} />
            </label>
            <label>
              Key type
              <select name="key_type" value={String(f.key_type)} onChange={(e) => set('key_type', e.currentTarget.value)}>
                <option value="ec">EC</option>
                <option value="rsa">RSA</option>
                <option value="ed25519">Ed25519</option>
              </select>
            </label>
          </div>
          <ErrorNote error={error} />
          <button type="submit">Save role</button>
        </form>
      )}
    </article>
  );
}

function IssueForm({ mount, role, onClose }: { mount: string; role: string; onClose: () => void }) {
  const api = useApi();
  const [cn, setCn] = useState('');
  const [alt, setAlt] = useState('');
  const [ttl, setTtl] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [cert, setCert] = useState<Issued | null>(null);
  return (
    <article data-testid="issue">
      <header class="title-row">
        <h2>Issue a certificate with {role}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const env = await api.write<Issued>(`${mount}issue/${role}`, { common_name: cn, alt_names: alt || undefined, ttl: ttl || undefined });
            setCert(env?.data ?? null);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="grid">
          <label>
            Common name
            <input name="common_name" required value={cn} onInput={(e) => setCn(e.currentTarget.value)} />
          </label>
          <label>
            Alternative names
            <input name="alt_names" placeholder="a.example.com, b.example.com" value={alt} onInput={(e) => setAlt(e.currentTarget.value)} />
          </label>
          <label>
            TTL
            <input name="ttl" placeholder="role default" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
          </label>
        </div>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy} aria-busy={busy ? 'true' : undefined}>
          Issue
        </button>
      </form>
      {cert && (
        <section>
          <dl class="props">
            <dt>Serial</dt>
            <dd>
              <code>{cert.serial_number}</code>
            </dd>
            <dt>Expires</dt>
            <dd>{cert.expiration ? formatTime(new Date(cert.expiration * 1000).toISOString()) : '—'}</dd>
            {cert.private_key && (
              <>
                <dt>Private key</dt>
                <dd>
                  <SecretValue value={cert.private_key} label="private key" />
                </dd>
              </>
            )}
          </dl>
          <pre class="pem">{cert.certificate}</pre>
          <div class="row">
            <button type="button" onClick={() => download(pemFileName(cn, 'cert'), cert.certificate.trim() + '\n')}>
              Download certificate
            </button>
            <button type="button" class="secondary" onClick={() => download(pemFileName(cn, 'chain'), [cert.certificate, ...(cert.ca_chain ?? (cert.issuing_ca ? [cert.issuing_ca] : []))].map((p) => p.trim()).join('\n') + '\n')}>
              Download chain
            </button>
            {cert.private_key && (
              <button type="button" class="secondary" onClick={() => download(pemFileName(cn, 'key'), cert.private_key!.trim() + '\n')}>
                Download private key
              </button>
            )}
          </div>
        </section>
      )}
    </article>
  );
}
