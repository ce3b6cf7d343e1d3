// Pieces several pages share: headings, alerts, error text.
import { get } from "../api.js";
import { h } from "../dom.js";
import { lang, t, tMaybe } from "../i18n.js";

export function heading(text) {
  return h("h1", { tabindex: "-1", class: "page-title" }, text);
}

const CJK = /[\u3400-\u9fff]/;

/** True when `text` is in the page's language (Chinese characters or not): some server
 * details are English whatever was asked, and a page shows one language. */
export function inLanguage(text) {
  return Boolean(text) && CJK.test(text) === (lang() === "zh-CN");
}

export const MANAGER_ROLES = ["owner", "manager"];
export const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The ISO date `days` after `iso` (calendar days, no timezone involved). */
export function shiftDate(iso, days) {
  const d = new Date(`${iso}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The human text for an ApiError, in the page's language: our own words for a known code,
 * else the server's localised title; its detail only when it is in the page's language too
 * (some details are English whatever was asked); the fields a 422 names, by name. */
export function errorText(error) {
  if (!error) return t("common.error");
  if (error.status === 0) return t("common.network_error");
  const p = error.problem || {};
  const main = tMaybe(`problem.${p.code}`, null) || (inLanguage(p.title) ? p.title : null) || p.title || p.detail || error.message || t("common.error");
  const parts = [main];
  if (p.detail && p.detail !== p.title && p.detail !== main && inLanguage(p.detail)) parts.push(p.detail);
  const fields = [...new Set((p.errors || []).map((e) => (e.loc || []).filter((x) => x !== "body").join(".")).filter(Boolean))];
  if (fields.length) parts.push(t("common.fields_at_fault", { fields: fields.join(", ") }));
  return parts.join(" · ");
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

/** The merchant's membership tiers, [{code, name, program}], for pickers and for showing a
 * tier's name where an API gives its code (loaded once per page). */
export async function merchantTiers(merchantId) {
  const programs = await get(`/v1/merchants/${encodeURIComponent(merchantId)}/programs?limit=100`);
  const out = [];
  for (const program of programs.items || []) {
    for (const tier of [...(program.tiers || [])].sort((a, b) => a.rank - b.rank)) {
      out.push({ code: tier.code, name: tier.name, program: program.name, programId: program.id });
    }
  }
  return out;
}

/** A tier's name from its code (several programs may share a code: the first name wins). */
export function tierName(tiers, code) {
  if (!code) return "";
  return tiers.find((tier) => tier.code === code)?.name || code;
}

/** YYYY-MM-DD of an instant in a timezone (for <input type=date>). */
export function localDate(value, timeZone) {
  if (!value) return "";
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(value));
}
