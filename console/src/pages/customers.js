// Customers: search, filters, sort, keyset pagination; a customer's profile and timeline.
import { get, query } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatDateTime, formatMoney, t, tMaybe } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, isMissingRoute, loading, merchantTiers, tierName } from "./common.js";

const SORTS = ["last_visit", "total_spend", "visits"];

const nameOf = (c) => c.name || c.display_name || c.user?.display_name || "—";
const spendOf = (c) => (typeof c.total_spend === "number" ? { amount: c.total_spend, currency: c.currency || "CNY" } : c.total_spend);
// the API gives a tier's code: people read its name (from the merchant's programmes)
const tierOf = (c, tiers = []) => (typeof c.tier === "object" && c.tier ? c.tier.name || c.tier.code : tierName(tiers, c.tier)) || "—";

function failure(body, error) {
  if (isMissingRoute(error)) mount(body, alertBox("info", t("common.not_available")));
  else mount(body, alertBox("error", t("common.error"), errorText(error)));
}

export async function renderCustomers(main, { params, navigate }) {
  const merchantId = session.merchant.merchant_id;
  const filters = {
    q: params.get("q") || "",
    tier: params.get("tier") || "",
    segment_id: params.get("segment_id") || "",
    sort: SORTS.includes(params.get("sort")) ? params.get("sort") : "last_visit",
  };
  const cursor = params.get("cursor") || "";
  const page = Number(params.get("page") || 1);

  const q = h("input", { type: "search", name: "q", value: filters.q, autocomplete: "off", enterkeyhint: "search" });
  const tier = h("select", { name: "tier" }, h("option", { value: "" }, t("customers.all")));
  if (filters.tier) tier.append(h("option", { value: filters.tier, selected: true }, filters.tier));
  const segment = h("select", { name: "segment_id" }, h("option", { value: "" }, t("customers.all")));
  const sort = h(
    "select",
    { name: "sort" },
    SORTS.map((s) => h("option", { value: s, selected: s === filters.sort }, t(`customers.sort_${s}`))),
  );
  const go = (extra = {}) => navigate(`customers${query({ q: q.value.trim(), tier: tier.value.trim(), segment_id: segment.value, sort: sort.value, ...extra })}`);
  const form = h(
    "form",
    { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); go(); } },
    field(t("customers.search"), q, t("customers.search_hint")),
    field(t("customers.tier"), tier),
    field(t("customers.segment"), segment),
    field(t("customers.sort"), sort),
    h("button", { type: "submit", class: "btn btn-primary" }, t("customers.apply")),
  );
  sort.addEventListener("change", () => go());
  tier.addEventListener("change", () => go());
  segment.addEventListener("change", () => go());
  const body = h("div", { class: "table-area" }, loading());
  mount(main, h("section", { class: "card wide" }, heading(t("customers.title")), form, body));
  main.querySelector("h1").focus();

  // the list and the segment names in one round trip
  const [list, segments, tierList] = await Promise.allSettled([
    get(`/v1/merchants/${merchantId}/customers${query({ ...filters, cursor, limit: 20 })}`),
    get(`/v1/merchants/${merchantId}/segments?limit=100`),
    merchantTiers(merchantId),
  ]);
  const tiers = tierList.status === "fulfilled" ? tierList.value : [];
  // one option per code (programmes may share a code), named by the tier's name
  const codes = [...new Map(tiers.map((x) => [x.code, x])).values()];
  for (const option of [...tier.options].slice(1)) option.remove();
  for (const x of codes) tier.append(h("option", { value: x.code, selected: x.code === filters.tier }, x.name));
  if (filters.tier && !codes.some((x) => x.code === filters.tier)) tier.append(h("option", { value: filters.tier, selected: true }, filters.tier));
  if (segments.status === "fulfilled") {
    const items = Array.isArray(segments.value) ? segments.value : segments.value?.items || [];
    for (const s of items) segment.append(h("option", { value: s.id, selected: s.id === filters.segment_id }, s.name));
  }
  if (list.status === "rejected") return failure(body, list.reason);

  const items = list.value.items || [];
  const nextCursor = list.value.next_cursor;
  const tz = session.shop?.timezone || undefined;
  const rows = items.map((c) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, h("a", { href: `#/customers/${c.id}` }, nameOf(c))),
      h("td", {}, c.phone || "—"),
      h("td", {}, tierOf(c, tiers)),
      h("td", { class: "num" }, c.visits ?? "—"),
      h("td", { class: "num" }, formatMoney(spendOf(c))),
      h("td", {}, formatDateTime(c.last_visit_at, tz)),
    ),
  );
  const table = items.length
    ? h(
        "table",
        { class: "data" },
        h("caption", { class: "sr-only" }, t("customers.title")),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["customers.name", "customers.phone", "customers.tier", "customers.visits", "customers.total_spend", "customers.last_visit"].map(
              (k) => h("th", { scope: "col", "aria-sort": k === `customers.${filters.sort}` ? "descending" : undefined }, t(k)),
            ),
          ),
        ),
        h("tbody", {}, rows),
      )
    : h("p", { class: "empty" }, t("customers.empty"));
  const pager = h(
    "nav",
    { class: "pager", "aria-label": t("customers.count", { page }) },
    h("button", { type: "button", class: "btn btn-secondary", disabled: page <= 1, onclick: () => history.back() }, t("common.prev")),
    h("span", {}, t("customers.count", { page })),
    h("button", { type: "button", class: "btn btn-secondary", disabled: !nextCursor, onclick: () => go({ cursor: nextCursor, page: page + 1 }) }, t("common.next")),
  );
  mount(body, table, pager);
}

export async function renderCustomer(main, { id }) {
  const merchantId = session.merchant.merchant_id;
  const body = h("div", { class: "stack" }, loading());
  mount(
    main,
    h("section", { class: "card wide" }, h("a", { href: "#/customers", class: "back" }, `← ${t("common.back")}`), heading(t("customer.title")), body),
  );
  main.querySelector("h1").focus();
  let c;
  let tiers = [];
  try {
    [c, tiers] = await Promise.all([
      get(`/v1/merchants/${merchantId}/customers/${encodeURIComponent(id)}`),
      merchantTiers(merchantId).catch(() => []),
    ]);
  } catch (error) {
    return failure(body, error);
  }
  const tz = session.shop?.timezone || undefined;
  main.querySelector("h1").textContent = nameOf(c);
  const facts = [
    [t("customers.phone"), c.phone],
    [t("customers.tier"), tierOf(c, tiers)],
    [t("customers.visits"), c.visits],
    [t("customers.total_spend"), formatMoney(spendOf(c))],
    [t("customers.last_visit"), formatDateTime(c.last_visit_at, tz)],
    [t("customer.first_seen"), formatDateTime(c.first_seen_at, tz)],
    [t("customer.rfm"), c.rfm_segment || c.rfm?.segment],
    [t("customer.tags"), (c.tags || []).join("、")],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  const timeline = c.timeline || [];
  mount(
    body,
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
    h("h2", {}, t("customer.timeline")),
    timeline.length
      ? h(
          "ol",
          { class: "timeline" },
          timeline.map((e) =>
            h(
              "li",
              { dataset: { kind: e.kind || "" } },
              h("time", { datetime: e.at }, formatDateTime(e.at, tz)),
              h("strong", {}, tMaybe(`timeline.${e.kind}`, e.kind)),
              e.amount ? h("span", { class: "amount" }, formatMoney(e.amount)) : null,
              e.summary ? h("p", {}, e.summary) : null,
            ),
          ),
        )
      : h("p", { class: "empty" }, t("customer.timeline_empty")),
  );
}
