import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html';
import { account } from './session';
import { SignIn, homeOf } from './sign-in';
import './style.css';

// Each page is its own chunk: an agent never downloads the wallboard's charts or the admin forms.
const pages: Record<string, () => Promise<{ default: (p: object) => unknown }>> = {
  '/agent': () => import('./agent-page'),
  '/wallboard': () => import('./wallboard-page'),
  '/admin': () => import('./admin-page'),
};

// what each role may open (the services refuse the rest anyway; this keeps people off dead ends)
const ALLOWED: Record<string, string[]> = { agent: ['/agent'], supervisor: ['/wallboard'], admin: ['/wallboard', '/admin'] };

function App() {
  const [path, setPath] = useState(location.pathname);
  const [Page, setPage] = useState<{ c: (p: object) => unknown } | null>(null);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  const a = account();
  const target = !a ? '/' : pages[path] && (ALLOWED[a.role] ?? []).includes(path) ? path : homeOf(a);
  useEffect(() => {
    if (target !== path) history.replaceState(null, '', target);
    setPage(null);
    const load = pages[target];
    if (load) void load().then((m) => setPage({ c: m.default }));
  }, [target]);
  if (target === '/') return html`<${SignIn} />`;
  return Page ? html`<${Page.c} />` : html`<p class="loading" aria-live="polite">…</p>`;
}

render(html`<${App} />`, document.getElementById('app')!);
