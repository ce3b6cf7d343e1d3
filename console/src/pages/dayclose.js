// Day close (日结): the chosen shop's day, or the whole merchant's, in the merchant's timezone —
// redemptions and reversals, card transactions by kind, count-card uses, orders, totals by
// staff member; printed with the page's print stylesheet, or downloaded as the API's .pdf/.csv
// (fetched with the session's token: a bare link would carry none).
import { download, get, query } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatDateTime, formatMoney, t } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, ISO_DATE, loading, localDate, shiftDate, statusLine } from "./common.js";



const money = (amount, currency) => formatMoney({ amount: amount || 0, currency });
const signed = (n) => (n > 0 ? `+${n}` : String(n || 0));

function table(caption, columns, rows, totals) {
  return h(
    "div",
    { class: "table-area" },
    h(
      "table",
      { class: "data day-table" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c, i) => h("th", { scope: "col", class: i ? "num" : undefined }, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((v, i) => (i ? h("td", { class: "num" }, v) : h("th", { scope: "row" }, v)))))),
      totals ? h("tfoot", {}, h("tr", {}, totals.map((v, i) => (i ? h("td", { class: "num" }, v) : h("th", { scope: "row" }, v))))) : null,
    ),
  );
}

export async function renderDayClose(main, { params, navigate }) {
  const merchantId = session.merchant.merchant_id;
  const shop = session.shop;
  const tz = shop?.timezone || undefined;
  const scope = params.get("scope") === "merchant" || !shop ? "merchant" : "shop";
  const date = ISO_DATE.test(params.get("date") || "") ? params.get("date") : localDate(new Date(), tz);
  const base = scope === "shop" ? `/v1/shops/${shop.id}/day-close` : `/v1/merchants/${merchantId}/day-close`;
  const go = (changes) => navigate(`day-close${query({ scope, date, ...changes })}`);

  const dateInput = h("input", { type: "date", name: "date", value: date, max: localDate(new Date(), tz) });
  dateInput.addEventListener("change", () => ISO_DATE.test(dateInput.value) && go({ date: dateInput.value }));
  const scopes = ["shop", "merchant"].map((s) =>
    h("label", { class: "segment" },
      h("input", { type: "radio", name: "scope", value: s, checked: s === scope, disabled: s === "shop" && !shop, onchange: () => go({ scope: s }) }),
      h("span", {}, s === "shop" ? t("dayclose.scope_shop", { name: shop?.name || "—" }) : t("dayclose.scope_merchant"))),
  );
  const status = statusLine();
  const fileLink = (ext, label) =>
    h("a", {
      class: "btn btn-secondary",
      href: `${base}.${ext}${query({ date })}`,
      "data-download": ext,
      onclick: async (event) => {
        event.preventDefault();
        try {
          const name = await download(event.currentTarget.getAttribute("href"), `day-close-${date}.${ext}`);
          status.show("ok", t("dayclose.downloaded", { name }));
        } catch (error) {
          status.show("error", errorText(error));
        }
      },
    }, label);
  const controls = h(
    "div",
    { class: "day-controls no-print" },
    h("fieldset", { class: "segmented" }, h("legend", {}, t("dayclose.scope")), scopes),
    h("div", { class: "day-date" },
      h("button", { type: "button", class: "btn btn-ghost", "aria-label": t("dayclose.prev_day"), onclick: () => go({ date: shiftDate(date, -1) }) }, "‹"),
      field(t("dayclose.date"), dateInput),
      h("button", { type: "button", class: "btn btn-ghost", "aria-label": t("dayclose.next_day"), disabled: date >= localDate(new Date(), tz), onclick: () => go({ date: shiftDate(date, 1) }) }, "›")),
    h("div", { class: "row-actions" },
      h("button", { type: "button", class: "btn btn-primary", onclick: () => window.print() }, t("dayclose.print")),
      fileLink("pdf", t("dayclose.pdf")),
      fileLink("csv", t("dayclose.csv"))),
    status,
  );
  const body = h("div", { class: "stack" }, loading());
  mount(main, h("section", { class: "card wide day-close" }, heading(t("dayclose.title")), controls, body));
  main.querySelector("h1").focus();

  let day;
  try {
    day = await get(`${base}${query({ date })}`);
  } catch (error) {
    return mount(body, alertBox("error", t("common.error"), errorText(error)));
  }
  const cur = day.currency || "CNY";
  const r = day.redemptions;
  const kinds = day.card_transactions || [];
  const staff = day.by_staff || [];
  const o = day.orders;
  const sum = (items, key) => items.reduce((a, x) => a + (typeof x[key] === "object" ? x[key]?.amount || 0 : x[key] || 0), 0);

  const kpis = [
    [t("dayclose.redeemed"), String(r.redeemed), money(r.discount.amount, cur)],
    [t("dayclose.card_transactions"), String(sum(kinds, "count")), money(sum(kinds, "amount"), cur)],
    [t("dayclose.orders_consumed"), String(o.consumed), money(o.consumed_total.amount, cur)],
    [t("dayclose.count_uses"), String(day.count_uses), ""],
  ];
  mount(
    body,
    h("p", { class: "day-heading" }, t(scope === "shop" ? "dayclose.for_shop" : "dayclose.for_merchant", { name: scope === "shop" ? shop.name : session.merchant.name, date: day.date })),
    h("p", { class: "muted" }, t("dayclose.window", { start: formatDateTime(day.start, day.timezone), end: formatDateTime(day.end, day.timezone), tz: day.timezone })),
    h("ul", { class: "kpis" }, kpis.map(([label, value, extra]) => h("li", {}, h("span", { class: "kpi-value" }, value), h("span", { class: "kpi-label" }, label), extra ? h("span", { class: "kpi-extra" }, extra) : null))),
    table(
      t("dayclose.redemptions"),
      ["", t("dayclose.count"), t("dayclose.discount"), t("dayclose.order_amount")],
      [
        [t("dayclose.redeemed"), String(r.redeemed), money(r.discount.amount, cur), money(r.order_amount.amount, cur)],
        [t("dayclose.reversed"), String(r.reversed), money(-r.reversed_discount.amount, cur), "—"],
      ],
      [t("dayclose.net"), String(r.redeemed - r.reversed), money(r.discount.amount - r.reversed_discount.amount, cur), "—"],
    ),
    kinds.length
      ? table(
          t("dayclose.card_by_kind"),
          [t("dayclose.kind"), t("dayclose.count"), t("dayclose.amount"), t("dayclose.points"), t("dayclose.balance"), t("dayclose.principal"), t("dayclose.bonus"), t("dayclose.uses")],
          kinds.map((k) => [k.label || k.kind, String(k.count), money(k.amount?.amount, cur), signed(k.points), money(k.balance_delta, cur), money(k.principal_delta, cur), money(k.bonus_delta, cur), signed(k.uses)]),
          [t("dayclose.total"), String(sum(kinds, "count")), money(sum(kinds, "amount"), cur), signed(sum(kinds, "points")), money(sum(kinds, "balance_delta"), cur), money(sum(kinds, "principal_delta"), cur), money(sum(kinds, "bonus_delta"), cur), signed(sum(kinds, "uses"))],
        )
      : h("p", { class: "empty" }, t("dayclose.no_card_transactions")),
    table(
      t("dayclose.orders"),
      ["", t("dayclose.count"), t("dayclose.amount")],
      [
        [t("dayclose.orders_consumed"), String(o.consumed), money(o.consumed_total.amount, cur)],
        [t("dayclose.orders_refunded"), String(o.refunded), money(-o.refunded_total.amount, cur)],
      ],
    ),
    staff.length
      ? table(
          t("dayclose.by_staff"),
          [t("dayclose.staff"), t("dayclose.redemptions"), t("dayclose.discount"), t("dayclose.card_transactions"), t("dayclose.card_purchases"), t("dayclose.balance_spent"), t("dayclose.orders_consumed"), t("dayclose.orders_total")],
          staff.map((s) => [s.name || "—", String(s.redemptions), money(s.discount.amount, cur), String(s.card_transactions), money(s.card_purchases.amount, cur), money(s.balance_spent.amount, cur), String(s.orders_consumed), money(s.orders_consumed_total.amount, cur)]),
          [t("dayclose.total"), String(sum(staff, "redemptions")), money(sum(staff, "discount"), cur), String(sum(staff, "card_transactions")), money(sum(staff, "card_purchases"), cur), money(sum(staff, "balance_spent"), cur), String(sum(staff, "orders_consumed")), money(sum(staff, "orders_consumed_total"), cur)],
        )
      : h("p", { class: "empty" }, t("dayclose.no_staff")),
    h("p", { class: "print-only muted" }, t("dayclose.printed", { at: formatDateTime(new Date(), day.timezone) })),
  );
}
