// A QR code drawn as SVG in the page (no image request, nothing from another origin): what a
// customer scans with WeChat or Alipay to pay at the counter.
import { encode } from "uqr";
import { svg } from "./dom.js";

const QUIET = 4; // modules of white margin the QR specification asks for

/** An <svg role="img"> of `text`'s QR code, one path of dark modules. */
export function qrSvg(text, label) {
  const { data, size } = encode(text, { ecc: "M", border: 0 });
  let d = "";
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) if (data[y][x]) d += `M${x + QUIET} ${y + QUIET}h1v1h-1z`;
  }
  const side = size + 2 * QUIET;
  return svg(
    "svg",
    { class: "qr", viewBox: `0 0 ${side} ${side}`, role: "img", "aria-label": label, "shape-rendering": "crispEdges", "data-text": text },
    svg("rect", { width: side, height: side, fill: "#fff" }),
    svg("path", { d, fill: "#000" }),
  );
}
