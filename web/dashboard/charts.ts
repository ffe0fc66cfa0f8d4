/**
 * Chart.js wrappers. Every chart keeps the data it shows in its container's `data-points`
 * attribute (JSON: labels and one array per series) and bumps `data-revision` on every redraw, so
 * tests and assistive tools can read the numbers behind the picture.
 */
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
} from 'chart.js';

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);
Chart.defaults.font.family = 'system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
Chart.defaults.color = '#475569';

export const COLORS = ['#2563eb', '#16a34a', '#f59e0b', '#db2777', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];

export interface SeriesSpec {
  /** Stable key written to `data-points` (e.g. the metric). */
  key: string;
  label: string;
  data: (number | null)[];
  kind?: 'line' | 'bar';
  /** Right-hand axis (for money next to counts). */
  secondary?: boolean;
  color?: string;
}

export class LiveChart {
  private readonly chart: Chart;
  private revision = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly type: 'line' | 'bar' | 'doughnut',
    withSecondaryAxis = false,
  ) {
    const canvas = document.createElement('canvas');
    container.append(canvas);
    const axes =
      type === 'doughnut'
        ? {}
        : {
            x: { grid: { display: false } },
            y: { beginAtZero: true, ticks: { precision: 0 } },
            ...(withSecondaryAxis ? { y1: { beginAtZero: true, position: 'right' as const, grid: { drawOnChartArea: false } } } : {}),
          };
    this.chart = new Chart(canvas, {
      type,
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: { duration: 250 },
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
        scales: axes,
      },
    });
  }

  update(labels: string[], series: SeriesSpec[]): void {
    this.chart.data.labels = labels;
    this.chart.data.datasets = series.map((s, i) => {
      const color = s.color ?? COLORS[i % COLORS.length];
      if (this.type === 'doughnut') {
        return { label: s.label, data: s.data, backgroundColor: labels.map((_, j) => COLORS[j % COLORS.length]), borderWidth: 1 } as ChartDataset<'doughnut'>;
      }
      const kind = s.kind ?? this.type;
      return {
        type: kind,
        label: s.label,
        data: s.data,
        borderColor: color,
        backgroundColor: kind === 'bar' ? `${color}99` : color,
        borderWidth: 2,
        pointRadius: kind === 'line' ? 2 : 0,
        cubicInterpolationMode: 'monotone',
        spanGaps: true,
        yAxisID: s.secondary ? 'y1' : 'y',
        order: kind === 'line' ? 0 : 1,
      } as ChartDataset<'line' | 'bar'>;
    }) as never;
    this.chart.update();
    this.revision += 1;
    this.container.dataset.points = JSON.stringify({ labels, series: Object.fromEntries(series.map((s) => [s.key, s.data])) });
    this.container.dataset.revision = String(this.revision);
  }
}
