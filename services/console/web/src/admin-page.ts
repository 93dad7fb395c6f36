import { useEffect, useState } from 'preact/hooks';
import { html } from './html';
import { t } from './i18n';
import { Shell, useLang } from './shell';
import { api } from './session';

const list = (s: FormDataEntryValue | null) => String(s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

function useLoad<T>(path: string, tick: number): [T | null, string] {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    api<T>(path).then(setData, (e: Error) => setErr(e.message));
  }, [path, tick]);
  return [data, err];
}

interface Agent { id: string; name: string; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number>; presence: string }
function Agents() {
  const [tick, setTick] = useState(0);
  const [data, err] = useLoad<{ agents: Agent[] }>('/router/v1/admin/agents', tick);
  const [msg, setMsg] = useState('');
  const save = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const capacity = Object.fromEntries(list(f.get('capacity')).map((pair) => pair.split(':').map((x) => x.trim())).map(([ch, n]) => [ch, Number(n)]));
    try {
      await api(`/router/v1/admin/agents/${encodeURIComponent(String(f.get('id')))}`, {
        method: 'PUT',
        body: { name: String(f.get('name')), tiers: list(f.get('tiers')).map(Number), skills: list(f.get('skills')), languages: list(f.get('languages')), capacity },
      });
      setMsg(t('admin.saved'));
      setTick(tick + 1);
    } catch (e2) {
      setMsg(t('error.generic', { message: (e2 as Error).message }));
    }
  };
  return html`<section class="card" aria-labelledby="ad-a"><h2 id="ad-a">${t('admin.agents')}</h2>
    ${err && html`<p role="alert" class="error">${err}</p>`}
    <table><thead><tr><th scope="col">${t('admin.id')}</th><th scope="col">${t('wb.name')}</th><th scope="col">${t('wb.tiers')}</th><th scope="col">${t('admin.skills')}</th><th scope="col">${t('admin.languages')}</th><th scope="col">${t('wb.load')}</th><th scope="col">${t('wb.presence')}</th></tr></thead>
    <tbody>${(data?.agents ?? []).map((a) => html`<tr data-testid="admin-agent"><th scope="row">${a.id}</th><td>${a.name}</td><td>${a.tiers.join(', ')}</td><td>${a.skills.join(', ')}</td><td>${a.languages.join(', ')}</td><td>${Object.entries(a.capacity).map(([k, v]) => `${k} ${v}`).join(' · ')}</td><td>${a.presence}</td></tr>`)}</tbody></table>
    <form class="inline" onSubmit=${save}>
      <label>${t('admin.id')}<input name="id" required /></label>
      <label>${t('wb.name')}<input name="name" required /></label>
      <label>${t('wb.tiers')}<input name="tiers" required placeholder="1,2" /></label>
      <label>${t('admin.skills')}<input name="skills" /></label>
      <label>${t('admin.languages')}<input name="languages" placeholder="es,en" /></label>
      <label>${t('admin.capacity')}<input name="capacity" required placeholder="chat:3, email:5, sms:2" /></label>
      <button type="submit">${t('admin.save')}</button>
    </form>${msg && html`<p role="status">${msg}</p>`}
  </section>`;
}

interface Account { id: string; username: string; role: string; disabled: boolean; lockedUntil: string | null }
function Accounts() {
  const [tick, setTick] = useState(0);
  const [data, err] = useLoad<{ accounts: Account[] }>('/router/v1/accounts', tick);
  const [msg, setMsg] = useState('');
  const create = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      await api('/router/v1/accounts', { method: 'POST', body: { id: String(f.get('id')), username: String(f.get('username')), role: String(f.get('role')), password: String(f.get('password')) } });
      setMsg(t('admin.saved'));
      setTick(tick + 1);
    } catch (e2) {
      setMsg(t('error.generic', { message: (e2 as Error).message }));
    }
  };
  const toggle = async (a: Account) => {
    await api(`/router/v1/accounts/${encodeURIComponent(a.id)}`, { method: 'PATCH', body: { disabled: !a.disabled } }).catch((e2: Error) => setMsg(e2.message));
    setTick(tick + 1);
  };
  return html`<section class="card" aria-labelledby="ad-c"><h2 id="ad-c">${t('admin.accounts')}</h2>
    ${err && html`<p role="alert" class="error">${err}</p>`}
    <table><thead><tr><th scope="col">${t('admin.id')}</th><th scope="col">${t('admin.username')}</th><th scope="col">${t('admin.role')}</th><th scope="col">${t('admin.active')}</th></tr></thead>
    <tbody>${(data?.accounts ?? []).map((a) => html`<tr data-testid="admin-account"><th scope="row">${a.id}</th><td>${a.username}</td><td>${a.role}</td><td><label><input type="checkbox" checked=${!a.disabled} onChange=${() => void toggle(a)} /> <span class="sr-only">${t('admin.active')} ${a.username}</span></label></td></tr>`)}</tbody></table>
    <form class="inline" onSubmit=${create}>
      <label>${t('admin.id')}<input name="id" required /></label>
      <label>${t('admin.username')}<input name="username" required /></label>
      <label>${t('admin.role')}<select name="role"><option>agent</option><option>supervisor</option><option>admin</option></select></label>
      <label>${t('signin.password')}<input name="password" type="password" minLength=${12} required autocomplete="new-password" /></label>
      <button type="submit">${t('admin.create')}</button>
    </form>${msg && html`<p role="status">${msg}</p>`}
  </section>`;
}

interface Version { version: number; active: boolean; createdBy: string; note: string | null; createdAt: string }
function Rules() {
  const [tick, setTick] = useState(0);
  const [versions, err] = useLoad<{ versions: Version[] }>('/router/v1/admin/rules/versions', tick);
  const [active] = useLoad<{ version: number; rules: unknown[]; selfService?: { categories: string[]; waitMs: number } | null }>('/router/v1/admin/rules', tick);
  const [text, setText] = useState('');
  const [msg, setMsg] = useState('');
  useEffect(() => {
    if (active) setText(JSON.stringify(active.rules, null, 2));
  }, [active]);
  const activate = async (v: number) => {
    try {
      await api(`/router/v1/admin/rules/versions/${v}/activate`, { method: 'POST', body: {} });
      setMsg(t('admin.saved'));
      setTick(tick + 1);
    } catch (e2) {
      setMsg(t('error.generic', { message: (e2 as Error).message }));
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const note = String(new FormData(e.target as HTMLFormElement).get('note') ?? '');
    try {
      await api('/router/v1/admin/rules', { method: 'PUT', body: { rules: JSON.parse(text), ...(note ? { note } : {}) } });
      setMsg(t('admin.saved'));
      setTick(tick + 1);
    } catch (e2) {
      setMsg(t('error.generic', { message: (e2 as Error).message }));
    }
  };
  // self-service (docs/knowledge.md) is versioned with the rules: saved as a new version with the active rules unchanged
  const saveSelfService = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const categories = String(form.get('categories') ?? '')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    const waitMs = Math.round(Number(form.get('waitS') ?? 0) * 1000);
    try {
      await api('/router/v1/admin/rules', { method: 'PUT', body: { rules: active?.rules ?? [], note: 'self-service', selfService: categories.length ? { categories, waitMs } : null } });
      setMsg(t('admin.saved'));
      setTick(tick + 1);
    } catch (e2) {
      setMsg(t('error.generic', { message: (e2 as Error).message }));
    }
  };
  return html`<section class="card" aria-labelledby="ad-r"><h2 id="ad-r">${t('admin.rules')}</h2>
    ${err && html`<p role="alert" class="error">${err}</p>`}
    <table><thead><tr><th scope="col">${t('admin.version')}</th><th scope="col">${t('admin.active')}</th><th scope="col">${t('admin.createdBy')}</th><th scope="col">${t('admin.note')}</th><th scope="col">${t('admin.when')}</th><th scope="col"><span class="sr-only">${t('admin.activate')}</span></th></tr></thead>
    <tbody>${(versions?.versions ?? []).map((v) => html`<tr data-testid="rule-version"><th scope="row">${v.version}</th><td>${v.active ? '✓' : ''}</td><td>${v.createdBy}</td><td>${v.note ?? ''}</td><td>${new Date(v.createdAt).toLocaleString()}</td>
      <td>${!v.active && html`<button onClick=${() => void activate(v.version)}>${t('admin.activate')} ${v.version}</button>`}</td></tr>`)}</tbody></table>
    <form onSubmit=${save}>
      <label>${t('admin.rulesJson')}<textarea rows="12" class="code" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <label>${t('admin.note')}<input name="note" /></label>
      <button type="submit">${t('admin.saveRules')}</button>
    </form>
    ${active &&
    html`<form onSubmit=${saveSelfService} data-testid="self-service-form" key=${active.version}>
      <h3>${t('admin.selfService')}</h3>
      <label>${t('admin.selfServiceCategories')}<input name="categories" value=${(active.selfService?.categories ?? []).join(', ')} /></label>
      <label>${t('admin.selfServiceWait')}<input name="waitS" type="number" min="1" max="86400" value=${Math.round((active.selfService?.waitMs ?? 300_000) / 1000)} /></label>
      <button type="submit">${t('admin.saveSelfService')}</button>
    </form>`}${msg && html`<p role="status">${msg}</p>`}
  </section>`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AuditItem = { seq: string; at: string; actor: { sub: string; role: string | null } | null; action: string; outcome: string; target: { type: string; id: string } | null; service?: string };
function Audit() {
  const [router] = useLoad<{ items: AuditItem[] }>('/router/v1/audit?limit=50', 0);
  const [history] = useLoad<{ items: AuditItem[] }>('/history/v1/audit?limit=50', 0);
  const items = [...(router?.items ?? []).map((i) => ({ ...i, service: 'router' })), ...(history?.items ?? []).map((i) => ({ ...i, service: 'history' }))].sort((a, b) => (a.at < b.at ? 1 : -1));
  return html`<section class="card" aria-labelledby="ad-t"><h2 id="ad-t">${t('admin.audit')}</h2>
    <table><thead><tr><th scope="col">${t('admin.when')}</th><th scope="col">${t('admin.service')}</th><th scope="col">${t('admin.actor')}</th><th scope="col">${t('admin.action')}</th><th scope="col">${t('admin.target')}</th><th scope="col">${t('admin.outcome')}</th></tr></thead>
    <tbody>${items.map((i) => html`<tr data-testid="audit-row"><td>${new Date(i.at).toLocaleString()}</td><td>${i.service}</td><td>${i.actor ? `${i.actor.sub} (${i.actor.role ?? '?'})` : '—'}</td><td>${i.action}</td><td>${i.target ? `${i.target.type} ${i.target.id}` : ''}</td><td>${i.outcome}</td></tr>`)}</tbody></table>
  </section>`;
}

export default function AdminPage() {
  useLang();
  const tabs = ['agents', 'accounts', 'rules', 'audit'] as const;
  const [tab, setTab] = useState<(typeof tabs)[number]>('agents');
  return html`<${Shell} title=${t('admin.title')}>
    <div class="admin">
      <div role="tablist" aria-label=${t('admin.title')} class="tabs">
        ${tabs.map((x) => html`<button role="tab" id=${`tab-${x}`} aria-controls="admin-panel" aria-selected=${tab === x ? 'true' : 'false'} onClick=${() => setTab(x)}>${t(`admin.${x}`)}</button>`)}
      </div>
      <div role="tabpanel" id="admin-panel" aria-labelledby=${`tab-${tab}`}>
        ${tab === 'agents' ? html`<${Agents} />` : tab === 'accounts' ? html`<${Accounts} />` : tab === 'rules' ? html`<${Rules} />` : html`<${Audit} />`}
      </div>
    </div>
  <//>`;
}
