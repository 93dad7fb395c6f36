import { useState } from 'preact/hooks';
import { html } from './html';
import { t } from './i18n';
import { Shell, go } from './shell';
import { signIn, type Account } from './session';

export const homeOf = (a: Account) => (a.role === 'agent' ? '/agent' : a.role === 'supervisor' ? '/wallboard' : '/admin');

export function SignIn() {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setBusy(true);
    setError('');
    try {
      go(homeOf(await signIn(String(f.get('username')), String(f.get('password')))));
    } catch (err) {
      setError(t('signin.failed', { reason: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  return html`<${Shell} title=${t('signin.title')}>
    <form class="card signin" onSubmit=${submit}>
      <h2>${t('signin.title')}</h2>
      <label>${t('signin.username')}<input name="username" autocomplete="username" required /></label>
      <label>${t('signin.password')}<input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${busy}>${t('signin.submit')}</button>
      ${error && html`<p role="alert" class="error">${error}</p>`}
    </form>
  <//>`;
}
