import { useEffect, useState } from 'preact/hooks';
import { html } from './html';
import { currentLang, onLangChange, setLang, t, type Lang } from './i18n';
import { account, signOut } from './session';

/** Re-renders the caller when the UI language changes. */
export function useLang(): Lang {
  const [l, setL] = useState(currentLang());
  useEffect(() => {
    const off = onLangChange(() => setL(currentLang()));
    return () => void off();
  }, []);
  return l;
}

export function go(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** Page frame: a banner with the pages the role may open, language and sign-out; then the page. */
export function Shell({ title, children }: { title: string; children: unknown }) {
  const lang = useLang();
  const a = account();
  const links: [string, string][] = [];
  if (a?.role === 'agent') links.push(['/agent', t('nav.agent')]);
  if (a?.role === 'supervisor' || a?.role === 'admin') links.push(['/wallboard', t('nav.wallboard')]);
  if (a?.role === 'admin') links.push(['/admin', t('nav.admin')]);
  return html`
    <header class="top">
      <span class="brand">${t('app.title')}</span>
      <nav aria-label="main">
        ${links.map(([href, label]) => html`<a href=${href} aria-current=${location.pathname === href ? 'page' : undefined} onClick=${(e: Event) => (e.preventDefault(), go(href))}>${label}</a>`)}
      </nav>
      <span class="spacer"></span>
      <label class="lang">${t('nav.language')}
        <select value=${lang} onChange=${(e: Event) => setLang((e.target as HTMLSelectElement).value as Lang)}>
          <option value="en">English</option>
          <option value="es">Español</option>
        </select>
      </label>
      ${a && html`<span class="who">${a.username}</span>
        <button class="link" onClick=${async () => (await signOut(), go('/'))}>${t('nav.signout')}</button>`}
    </header>
    <main id="main" aria-label=${title}><h1 class="sr-only">${title}</h1>${children}</main>`;
}
