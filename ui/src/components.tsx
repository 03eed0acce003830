import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api';

/** Loads data and tracks loading and error states. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
} {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** The page heading; it takes focus when the page opens so screen readers announce it. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} class="page-title">
      {children}
    </h1>
  );
}

export function ErrorNote({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  return (
    <p role="alert" class="error" id={id} data-testid="error">
      {messageOf(error)}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p role="status" class="notice" data-testid="notice">
      {children}
    </p>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p aria-busy="true">{what}…</p>;
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  document.execCommand('copy');
  ta.remove();
}

export function CopyButton({ value, label }: { value: string; label: string }) {
  const [done, setDone] = useState<string>('');
  return (
    <button
      type="button"
      class="secondary outline small"
      aria-label={`Copy ${label}`}
      onClick={() =>
        copyText(value).then(
          () => setDone('Copied'),
          () => setDone('Copy failed'),
        )
      }
    >
      {done || 'Copy'}
    </button>
  );
}

/** A secret value shown masked until the operator reveals it. */
export function SecretValue({ value, label, testid }: { value: string; label: string; testid?: string }) {
  const [shown, setShown] = useState(false);
  return (
    <span class="secret">
      <code data-testid={testid} data-value={shown ? value : undefined} aria-label={shown ? undefined : `${label} (hidden)`}>
        {shown ? value : '•'.repeat(Math.min(16, Math.max(8, value.length)))}
      </code>
      <button type="button" class="secondary outline small" aria-pressed={shown} aria-label={`${shown ? 'Hide' : 'Reveal'} ${label}`} onClick={() => setShown(!shown)}>
        {shown ? 'Hide' : 'Reveal'}
      </button>
      <CopyButton value={value} label={label} />
    </span>
  );
}

/**
 * Guards a destructive action: the button is enabled only when the
 * operator has typed the phrase exactly.
 */
export function TypedConfirm(props: {
  phrase: string;
  action: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel?: () => void;
  children?: ComponentChildren;
}) {
  const [typed, setTyped] = useState('');
  const ok = typed === props.phrase;
  return (
    <form
      class="confirm"
      onSubmit={(e) => {
        e.preventDefault();
        if (ok && !props.busy) props.onConfirm();
      }}
    >
      {props.children}
      <label>
        Type <code>{props.phrase}</code> to confirm
        <input name="confirm" autocomplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} aria-invalid={typed !== '' && !ok ? 'true' : undefined} />
      </label>
      <div class="row">
        <button type="submit" class="danger" disabled={!ok || props.busy} aria-busy={props.busy ? 'true' : undefined}>
          {props.action}
        </button>
        {props.onCancel && (
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

/** A small hourly bar chart drawn in SVG, with the numbers as text for assistive technology. */
export function BarChart({ values, label }: { values: number[]; label: string }) {
  const max = Math.max(1, ...values);
  const w = 4;
  const gap = 1;
  const h = 28;
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <svg class="chart" role="img" viewBox={`0 0 ${values.length * (w + gap)} ${h}`} width={values.length * (w + gap) * 3} height={h * 1.5} preserveAspectRatio="none" aria-label={`${label}: ${total} in ${values.length} hours, at most ${max} in one hour`}>
      {values.map((v, i) => {
        const bh = (v / max) * h;
        return (
          <rect key={i} x={i * (w + gap)} y={h - bh} width={w} height={Math.max(bh, v > 0 ? 1 : 0)}>
            <title>{`${values.length - i} h ago: ${v}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

/** Offers text as a file download. */
export function download(filename: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A two-column table for an object's fields. */
export function FieldTable({ data, caption, secretKeys = [] }: { data: Record<string, unknown>; caption?: string; secretKeys?: string[] }) {
  const rows = Object.entries(data);
  if (rows.length === 0) return <p>No fields.</p>;
  return (
    <table class="fields">
      {caption && <caption>{caption}</caption>}
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>
              {secretKeys.includes(k) && typeof v === 'string' ? (
                <SecretValue value={v} label={k} testid={`field-${k}`} />
              ) : (
                <code data-testid={`field-${k}`}>{typeof v === 'string' ? v : JSON.stringify(v)}</code>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
