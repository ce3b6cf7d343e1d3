// The bookings board of the shop's day: every booking in time order with its status, moved on
// by staff (booked → arrived → completed, booked → no_show, or cancelled), and a booking made
// for a customer who phoned (by phone and name: a customer the merchant does not know yet
// becomes a walk-in customer).
import { get, patch, post, query } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, ISO_DATE, loading, localDate, shiftDate, statusLine } from "./common.js";

const STATUSES = ["booked", "arrived", "completed", "no_show", "cancelled"];
// the moves staff can make from each status (the API refuses any other with 409)
const MOVES = { booked: ["arrived", "no_show", "cancel"], arrived: ["completed"] };

let flash = null; // "booked X at 14:00", shown once after the board reloads with it


export async function renderBookings(main, { params, navigate }) {
  const shop = session.shop;
  const tz = shop.timezone || undefined;
  const today = localDate(new Date(), tz);
  const date = ISO_DATE.test(params.get("date") || "") ? params.get("date") : today;
  const filter = STATUSES.includes(params.get("status")) ? params.get("status") : "";
  const go = (changes) => navigate(`bookings${query({ date, status: filter, ...changes })}`);

  const dateInput = h("input", { type: "date", name: "date", value: date });
  dateInput.addEventListener("change", () => ISO_DATE.test(dateInput.value) && go({ date: dateInput.value }));
  const statusSelect = h("select", { name: "status" }, h("option", { value: "" }, t("bookings.all")),
    STATUSES.map((s) => h("option", { value: s, selected: s === filter }, t(`booking.${s}`))));
  statusSelect.addEventListener("change", () => go({ status: statusSelect.value }));
  const board = h("div", { class: "stack" }, loading());
  const formArea = h("section", { class: "stack", "aria-labelledby": "book-new" });
  mount(
    main,
    h("section", { class: "card wide bookings" },
      heading(t("bookings.title")),
      h("p", { class: "shop-name" }, t("counter.shop", { name: shop.name })),
      h("div", { class: "day-controls" },
        h("div", { class: "day-date" },
          h("button", { type: "button", class: "btn btn-ghost", "aria-label": t("dayclose.prev_day"), onclick: () => go({ date: shiftDate(date, -1) }) }, "‹"),
          field(t("dayclose.date"), dateInput),
          h("button", { type: "button", class: "btn btn-ghost", "aria-label": t("dayclose.next_day"), onclick: () => go({ date: shiftDate(date, 1) }) }, "›")),
        date !== today ? h("button", { type: "button", class: "btn btn-secondary", onclick: () => go({ date: today }) }, t("bookings.today")) : null,
        field(t("bookings.status"), statusSelect)),
      board,
      formArea),
  );
  main.querySelector("h1").focus();

  let items;
  let offerings = [];
  try {
    const [page, offered] = await Promise.all([
      get(`/v1/shops/${shop.id}/bookings${query({ date, status: filter, limit: 100 })}`),
      get(`/v1/shops/${shop.id}/offerings?limit=100`).catch(() => ({ items: [] })),
    ]);
    items = page.items || [];
    offerings = (offered.items || []).filter((o) => o.bookable && o.active !== false);
  } catch (error) {
    return mount(board, alertBox("error", t("common.error"), errorText(error)));
  }

  function row(booking) {
    const li = h("li", { class: `booking status-${booking.status}`, dataset: { id: booking.id } });
    const status = statusLine();
    const move = async (to) => {
      if (to === "cancel" && !window.confirm(t("bookings.cancel_confirm", { name: booking.customer_name || "" }))) return;
      try {
        booking = to === "cancel"
          ? await post(`/v1/bookings/${booking.id}/cancel`)
          : await patch(`/v1/bookings/${booking.id}`, { status: to });
        items = items.map((b) => (b.id === booking.id ? booking : b));
        show();
        renderCounts();
        li.querySelector("button")?.focus();
      } catch (error) {
        status.show("error", errorText(error));
      }
    };
    const show = () => {
      li.className = `booking status-${booking.status}`;
      const who = booking.customer_name || t("bookings.no_name");
      mount(li,
        h("div", { class: "booking-time" },
          h("strong", {}, `${formatTime(booking.starts_at, tz)}–${formatTime(booking.ends_at, tz)}`),
          h("span", { class: `badge booking-badge status-${booking.status}` }, t(`booking.${booking.status}`))),
        h("div", { class: "booking-who" },
          h("strong", {}, who),
          booking.customer_phone ? h("span", { class: "muted" }, booking.customer_phone) : null,
          h("span", {}, `${booking.offering_name} · ${t("bookings.party", { n: booking.party_size })}`),
          booking.note ? h("span", { class: "muted" }, booking.note) : null,
          booking.booked_by ? h("small", { class: "muted" }, t("bookings.by_staff")) : null),
        h("div", { class: "row-actions" }, (MOVES[booking.status] || []).map((to) =>
          h("button", {
            type: "button",
            class: `btn ${to === "arrived" || to === "completed" ? "btn-primary" : "btn-ghost"}${to === "cancel" ? " btn-danger" : ""}`,
            "aria-label": `${t(`bookings.move_${to}`)} · ${who} ${formatTime(booking.starts_at, tz)}`,
            onclick: () => move(to),
          }, t(`bookings.move_${to}`)))),
        status);
    };
    show();
    return li;
  }

  const countsLine = h("p", { class: "booking-counts", "aria-live": "polite" });
  function renderCounts() {
    const counts = STATUSES.map((s) => [s, items.filter((b) => b.status === s).length]).filter(([, n]) => n);
    mount(countsLine, counts.map(([s, n]) => h("span", { class: `badge booking-badge status-${s}` }, `${t(`booking.${s}`)} ${n}`)));
  }
  renderCounts();
  mount(
    board,
    countsLine,
    items.length
      ? h("ol", { class: "booking-list", "aria-label": t("bookings.list", { date }) }, items.map(row))
      : h("p", { class: "empty" }, t("bookings.empty")),
  );

  // -- a booking for a customer who phoned -------------------------------------------------
  if (!offerings.length) {
    return mount(formArea, h("h2", { id: "book-new" }, t("bookings.new")), h("p", { class: "hint" }, t("bookings.no_bookable")));
  }
  const offering = h("select", { name: "offering_id" }, offerings.map((o) => h("option", { value: o.id }, o.name)));
  const day = h("input", { type: "date", name: "book_date", value: date < today ? today : date, min: today });
  const slot = h("select", { name: "slot" });
  const phone = h("input", { type: "tel", name: "phone", autocomplete: "off", inputmode: "tel" });
  const name = h("input", { type: "text", name: "customer_name", maxlength: "64", autocomplete: "off" });
  const party = h("input", { type: "number", name: "party_size", min: "1", max: "50", value: "1" });
  const note = h("input", { type: "text", name: "note", maxlength: "500", autocomplete: "off" });
  const status = statusLine();
  const loadSlots = async () => {
    mount(slot, h("option", { value: "" }, t("common.loading")));
    try {
      const list = await get(`/v1/shops/${shop.id}/slots${query({ offering_id: offering.value, date: day.value })}`);
      const open = (list.items || []).filter((s) => s.available > 0);
      mount(slot, open.length
        ? open.map((s) => h("option", { value: s.starts_at }, `${formatTime(s.starts_at, tz)} · ${t("bookings.available", { n: s.available })}`))
        : h("option", { value: "" }, t("bookings.no_slots")));
    } catch (error) {
      mount(slot, h("option", { value: "" }, errorText(error)));
    }
  };
  offering.addEventListener("change", loadSlots);
  day.addEventListener("change", loadSlots);
  mount(
    formArea,
    h("h2", { id: "book-new" }, t("bookings.new")),
    h("p", { class: "hint" }, t("bookings.new_hint")),
    h("form", {
      class: "stack",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!slot.value) return slot.focus();
        if (!phone.value.trim()) return phone.focus();
        const body = { offering_id: offering.value, starts_at: slot.value, party_size: Number(party.value || 1), phone: phone.value.trim() };
        if (name.value.trim()) body.customer_name = name.value.trim();
        if (note.value.trim()) body.note = note.value.trim();
        try {
          const booked = await post(`/v1/shops/${shop.id}/bookings`, body);
          const text = t("bookings.booked", { time: formatTime(booked.starts_at, tz), name: booked.customer_name || body.phone });
          if (localDate(booked.starts_at, tz) !== date) return status.show("ok", text);
          flash = text; // the board of this day shows the new booking: reload it
          go({});
        } catch (error) {
          status.show("error", errorText(error));
        }
      },
    },
    h("div", { class: "form-grid" },
      field(t("bookings.offering"), offering),
      field(t("bookings.day"), day),
      field(t("bookings.slot"), slot),
      field(t("bookings.phone"), phone),
      field(t("bookings.name"), name, t("bookings.name_hint")),
      field(t("bookings.party_size"), party),
      field(t("bookings.note"), note)),
    h("button", { type: "submit", class: "btn btn-primary" }, t("bookings.book")),
    status),
  );
  loadSlots();
  if (flash) {
    status.show("ok", flash);
    flash = null;
  }
}
