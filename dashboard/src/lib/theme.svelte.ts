/** Light/dark: follows prefers-color-scheme until the user picks one with the toggle. */
export type Theme = 'light' | 'dark';
const KEY = 'synapse.theme';

function systemTheme(): Theme {
  return typeof matchMedia !== 'undefined' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

class ThemeState {
  chosen = $state<Theme | null>(null);
  current = $derived<Theme>(this.chosen ?? systemTheme());

  constructor() {
    if (typeof localStorage !== 'undefined') {
      const t = localStorage.getItem(KEY);
      if (t === 'light' || t === 'dark') this.chosen = t;
    }
  }

  toggle() {
    this.chosen = this.current === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = this.chosen;
    try { localStorage.setItem(KEY, this.chosen); } catch { /* ignore */ }
  }
}

export const theme = new ThemeState();
