// Hand-drawn SVG charts (no chart library needed for two charts): a funnel and a bar series.
import { svg } from "./dom.js";

/** Horizontal funnel: one bar per step, widths relative to the first step. */
export function funnelChart(steps, { label, width = 640 } = {}) {
  const barH = 44;
  const gap = 14;
  const labelW = 120;
  const valueW = 130;
  const height = steps.length * (barH + gap) - gap;
  const max = Math.max(1, ...steps.map((s) => s.value));
  const first = steps[0]?.value || 0;
  const plotW = width - labelW - valueW;
  const g = steps.map((step, i) => {
    const y = i * (barH + gap);
    const w = Math.max(2, Math.round((step.value / max) * plotW));
    const share = first ? ` (${Math.round((step.value / first) * 100)}%)` : "";
    return svg(
      "g",
      { class: `funnel-step step-${i}` },
      svg("text", { x: labelW - 10, y: y + barH / 2, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label" }, step.label),
      svg("rect", { x: labelW, y, width: w, height: barH, rx: 6, class: `bar bar-${i}` }),
      svg("text", { x: labelW + w + 8, y: y + barH / 2, "dominant-baseline": "middle", class: "chart-value" }, `${step.value}${i ? share : ""}`),
    );
  });
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart chart-funnel", role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" },
    svg("title", {}, label),
    g,
  );
}

/** Vertical bars of `value` per `label` (dates), with a zero line and the maximum marked. */
export function barChart(points, { label, width = 640, height = 240 } = {}) {
  const pad = { top: 16, right: 12, bottom: 36, left: 40 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...points.map((p) => p.value));
  const step = plotW / Math.max(1, points.length);
  const barW = Math.max(2, Math.min(48, step * 0.7));
  const every = Math.ceil(points.length / 10); // at most ~10 date labels
  const bars = points.map((p, i) => {
    const x = pad.left + i * step + (step - barW) / 2;
    const bh = (p.value / max) * plotH;
    const y = pad.top + plotH - bh;
    return svg(
      "g",
      {},
      svg("rect", { x, y, width: barW, height: Math.max(bh, p.value ? 1 : 0), rx: 3, class: "bar bar-day" }, svg("title", {}, `${p.label}: ${p.value}`)),
      p.value && points.length <= 31 ? svg("text", { x: x + barW / 2, y: y - 4, "text-anchor": "middle", class: "chart-value small" }, p.value) : null,
      i % every === 0
        ? svg("text", { x: x + barW / 2, y: pad.top + plotH + 20, "text-anchor": "middle", class: "chart-label small" }, p.label)
        : null,
    );
  });
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart chart-bars", role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" },
    svg("title", {}, label),
    svg("line", { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, class: "axis" }),
    svg("line", { x1: pad.left, x2: width - pad.right, y1: pad.top, y2: pad.top, class: "gridline" }),
    svg("text", { x: pad.left - 6, y: pad.top, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label small" }, max),
    svg("text", { x: pad.left - 6, y: pad.top + plotH, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label small" }, 0),
    bars,
  );
}
