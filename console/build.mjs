// Bundles the console into api/console/static (committed, so serving needs no node).
import { copyFile, mkdir, rm } from "node:fs/promises";
import * as esbuild from "esbuild";

const out = new URL("../api/console/static/", import.meta.url).pathname;
// start clean: chunk names carry content hashes, old ones must not pile up
await rm(`${out}assets`, { recursive: true, force: true });
await mkdir(`${out}assets`, { recursive: true });
await esbuild.build({
  entryPoints: [
    { in: "src/main.js", out: "app" },
    { in: "src/app.css", out: "app" },
  ],
  outdir: `${out}assets`,
  bundle: true,
  format: "esm",
  splitting: true, // the QR decoder loads only when the camera opens
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: false,
  target: ["chrome96", "safari15", "firefox100"],
  legalComments: "eof",
  logLevel: "info",
});
await copyFile("src/index.html", `${out}index.html`);
