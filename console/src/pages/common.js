// Pieces several pages share: headings, alerts, error text.
import { h } from "../dom.js";
import { t } from "../i18n.js";

export function heading(text) {
  return h("h1", { tabindex: "-1", class: "page-title" }, text);
}

/** The human text for an ApiError: the server's localized title/detail, or our own words. */
export function errorText(error) {
  if (!error) return t("common.error");
  if (error.status === 0) return t("common.network_error");
  const p = error.problem || {};
  const text = p.detail || p.title || error.message || t("common.error");
  // a 422 names the fields at fault: say which, so the user knows what to correct
  const fields = (p.errors || [])
    .map((e) => `${(e.loc || []).filter((x) => x !== "body").join(".")}: ${e.msg}`)
    .filter((line) => !text.includes(line));
  return [text, ...fields].join(" · ");
}

export function alertBox(kind, title, detail) {
  return h(
    "div",
    { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("strong", {}, title),
    detail ? h("p", {}, detail) : null,
  );
}

export function loading() {
  return h("p", { class: "loading", role: "status" }, t("common.loading"));
}

/** True when the route is not deployed yet: domain errors carry specific codes
 * (`merchant_not_found`, `coupon_not_found`...), only an unknown path gives the bare `not_found`. */
export function isMissingRoute(error) {
  return error?.status === 405 || (error?.status === 404 && error.code === "not_found");
}

/** "12.5" → 1250 (minor units) without floating point; null when empty, NaN when invalid. */
export function parseYuan(text) {
  const s = String(text || "").trim();
  if (!s) return null;
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) return Number.NaN;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

/** 1250 → "12.50", the value an amount field shows for editing. */
export function yuanInput(money) {
  const amount = typeof money === "number" ? money : money?.amount;
  if (amount == null) return "";
  return `${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, "0")}`;
}

/** A short-lived line under a form: ok or error, announced to screen readers. */
export function statusLine() {
  const el = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  el.show = (kind, text) => {
    el.className = `form-status form-status-${kind}`;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = text;
  };
  el.clear = () => {
    el.textContent = "";
  };
  return el;
}
