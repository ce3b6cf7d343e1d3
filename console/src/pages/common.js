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
  return p.detail || p.title || error.message || t("common.error");
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
