import { useState } from 'preact/hooks';
import { ErrorNote, Loading, Notice, PageTitle, TypedConfirm, useAsync } from '../components';
import { useApi } from '../context';
import { normaliseMount } from '../format';

interface Device {
  type: string;
  description?: string;
  options?: Record<string, string> | null;
  path?: string;
}

const optionFields: Record<string, [string, string, string][]> = {
  file: [['file_path', 'File path', '/var/log/coffer/audit.log']],
  syslog: [
    ['tag', 'Tag', 'coffer'],
    ['facility', 'Facility', 'AUTH'],
  ],
  socket: [
    ['address', 'Address', '127.0.0.1:9090'],
    ['socket_type', 'Socket type', 'tcp'],
  ],
};

export function AuditPage() {
  const api = useApi();
  const devices = useAsync(async () => {
    const d = (await api.read<Record<string, unknown>>('sys/audit')) ?? {};
    return Object.entries(d)
      .filter(([k, v]) => k.endsWith('/') && v && typeof v === 'object')
      .map(([k, v]) => [k, v as Device] as [string, Device]);
  }, [api]);
  const [notice, setNotice] = useState('');
  const [removing, setRemoving] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <section>
      <PageTitle>Audit devices</PageTitle>
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={devices.error} />
      <ErrorNote error={error} />
      {devices.loading && !devices.data && <Loading />}
      {devices.data &&
        (devices.data.length ? (
          <table data-testid="audit-devices">
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Type</th>
                <th scope="col">Options</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {devices.data.map(([p, d]) => (
                <tr key={p}>
                  <td>{p}</td>
                  <td>{d.type}</td>
                  <td>
                    {Object.entries(d.options ?? {}).map(([k, v]) => (
                      <div key={k}>
                        <code>
                          {k}={v}
                        </code>
                      </div>
                    ))}
                  </td>
                  <td>
                    <button type="button" class="danger outline small" aria-label={`Disable ${p}`} onClick={() => setRemoving(p)}>
                      Disable
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="warn">No audit device is enabled: requests are not being recorded.</p>
        ))}
      {removing && (
        <TypedConfirm
          phrase={removing}
          action={`Disable ${removing}`}
          onCancel={() => setRemoving(null)}
          onConfirm={async () => {
            setError(null);
            try {
              await api.remove(`sys/audit/${removing}`);
              setNotice(`Disabled ${removing}.`);
              setRemoving(null);
              devices.reload();
            } catch (err) {
              setError(err);
            }
          }}
        >
          <p>Requests stop being written to {removing}.</p>
        </TypedConfirm>
      )}
      <EnableAudit
        onDone={(m) => {
          setNotice(m);
          devices.reload();
        }}
      />
    </section>
  );
}

function EnableAudit({ onDone }: { onDone: (m: string) => void }) {
  const api = useApi();
  const [type, setType] = useState('file');
  const [path, setPath] = useState('');
  const [opts, setOpts] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  return (
    <details class="panel">
      <summary role="button" class="secondary outline">
        Enable an audit device
      </summary>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          const p = normaliseMount(path || type);
          const options = Object.fromEntries(Object.entries(opts).filter(([k, v]) => v.trim() && optionFields[type].some(([f]) => f === k)));
          try {
            await api.put(`sys/audit/${p}`, { type, options });
            onDone(`Enabled the ${type} audit device at ${p}.`);
          } catch (err) {
            setError(err);
          }
        }}
      >
        <div class="grid">
          <label>
            Type
            <select name="type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
              <option value="file">File</option>
              <option value="syslog">Syslog</option>
              <option value="socket">Socket</option>
            </select>
          </label>
          <label>
            Path
            <input name="path" placeholder={type} value={path} onInput={(e) => setPath(e.currentTarget.value)} />
          </label>
        </div>
        <div class="grid">
          {optionFields[type].map(([k, label, ph]) => (
            <label key={k}>
              {label}
              <input name={k} placeholder={ph} required={k === 'file_path' || k === 'address'} value={opts[k] ?? ''} onInput={(e) => setOpts({ ...opts, [k]: e.currentTarget.value })} />
            </label>
          ))}
        </div>
        <ErrorNote error={error} />
        <button type="submit">Enable</button>
      </form>
    </details>
  );
}
