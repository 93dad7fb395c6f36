import { h } from 'preact';
import htm from 'htm';

/** JSX-like templates without a compile step (htm): html`<div class=${c}>…</div>`. */
export const html = htm.bind(h);
