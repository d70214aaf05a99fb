/** Chart.js, tree-shaken to what the dashboard draws (line and bar charts over time). */
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement,
  PointElement, Tooltip, type ChartConfiguration
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, CategoryScale, LinearScale,
  Filler, Legend, Tooltip);

export { Chart };
export type { ChartConfiguration };

/** The palette from CSS custom properties, so charts follow light/dark. */
export function palette(): { text: string; grid: string; series: string[] } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--muted', '#555'),
    grid: v('--border', '#ddd'),
    series: [v('--c1', '#5b5bd6'), v('--c2', '#0f9d8a'), v('--c3', '#d9730d'), v('--c4', '#c2255c'), v('--c5', '#2f80ed')]
  };
}
