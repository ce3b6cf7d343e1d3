// The service desk: follow-ups due today (overdue first) and open complaints by due time, each
// given to someone. Managers assign anyone; a clerk takes a task or gives their own back (the
// API enforces it: 403 otherwise). Filters: everyone's, mine, unassigned.
import { get, patch, query } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatDateTime, t, tMaybe } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, loading, localDate, MANAGER_ROLES, statusLine } from "./common.js";

const FILTERS = ["all", "mine", "none"];

export async function renderDesk(main, { params, navigate }) {
  const merchantId = session.merchant.merchant_id;
  const tz = session.shop?.timezone || undefined;
  const manager = MANAGER_ROLES.includes(session.merchant.role);
  const filter = FILTERS.includes(params.get("who")) ? params.get("who") : "all";
  const body = h("div", { class: "stack" }, loading());
  const who = h("select", { name: "who" }, FILTERS.map((f) => h("option", { value: f, selected: f === filter }, t(`desk.who_${f}`))));
  who.addEventListener("change", () => navigate(`desk${query({ who: who.value === "all" ? "" : who.value })}`));
  mount(main, h("section", { class: "card wide desk" }, heading(t("desk.title")), h("div", { class: "day-controls" }, field(t("desk.who"), who)), body));
  main.querySelector("h1").focus();

  let me;
  try {
    me = await get("/v1/me");
  } catch (error) {
    return mount(body, alertBox("error", t("common.error"), errorText(error)));
  }
  // the staff list is for managers (who assign anyone); a clerk only takes or gives back
  const staff = manager ? await get(`/v1/merchants/${merchantId}/staff`).catch(() => []) : [];
  const assignee = filter === "mine" ? me.id : filter === "none" ? "none" : "";
  const [due, complaints] = await Promise.allSettled([
    get(`/v1/merchants/${merchantId}/follow-ups/due${query({ date: localDate(new Date(), tz), assignee, limit: 100 })}`),
    get(`/v1/merchants/${merchantId}/complaints${query({ assignee, limit: 100 })}`),
  ]);
  const staffName = (id) =>
    id === me.id ? me.display_name || t("desk.me") : staff.find((s) => s.user_id === id)?.display_name || t(manager ? "desk.unknown_staff" : "desk.other_staff");

  /** Who has it, and the control to change that: a select for managers, take/give back for clerks. */
  function assignControl(item, save, label) {
    const current = item.assignee ?? null;
    const status = statusLine();
    const wrap = h("div", { class: "assign" });
    const apply = async (value) => {
      try {
        const saved = await save(value);
        item.assignee = saved.assignee ?? value;
        const next = assignControl(item, save, label);
        wrap.replaceWith(next);
        next.querySelector("select, button")?.focus();
        next.querySelector(".form-status").show("ok", item.assignee ? t("desk.assigned_to", { name: staffName(item.assignee) }) : t("desk.unassigned_now"));
      } catch (error) {
        status.show("error", errorText(error));
      }
    };
    if (manager) {
      const select = h("select", { name: "assignee", "aria-label": t("desk.assign_label", { what: label }) },
        h("option", { value: "" }, t("desk.nobody")),
        staff.map((s) => h("option", { value: s.user_id, selected: s.user_id === current }, `${s.display_name} · ${t(`role.${s.role}`)}`)));
      select.addEventListener("change", () => apply(select.value || null));
      mount(wrap, select, status);
    } else {
      mount(wrap,
        h("span", { class: "muted" }, current ? t("desk.assigned_to", { name: staffName(current) }) : t("desk.nobody")),
        current === me.id
          ? h("button", { type: "button", class: "btn btn-ghost", onclick: () => apply(null) }, t("desk.give_back"))
          : current
            ? null
            : h("button", { type: "button", class: "btn btn-secondary", onclick: () => apply(me.id) }, t("desk.take")),
        status);
    }
    return wrap;
  }

  const dueSection = h("section", { class: "stack", "aria-labelledby": "desk-due" }, h("h2", { id: "desk-due" }, t("desk.due")));
  if (due.status === "rejected") dueSection.append(alertBox("error", t("common.error"), errorText(due.reason)));
  else {
    const items = due.value.items || [];
    dueSection.append(items.length
      ? h("ol", { class: "desk-list" }, items.map((d) => {
          const task = d.task;
          const label = `${d.customer_name || t("bookings.no_name")} ${formatDateTime(task.due_at, tz)}`;
          return h("li", { class: `desk-item${d.overdue ? " overdue" : ""}`, dataset: { id: task.id } },
            h("div", { class: "desk-main" },
              h("strong", {}, h("a", { href: `#/customers/${task.customer_id}` }, d.customer_name || t("bookings.no_name"))),
              d.phone ? h("span", { class: "muted" }, d.phone) : null,
              h("span", {}, `${tMaybe(`desk.method_${task.method}`, task.method)} · ${tMaybe(`desk.reason_${task.reason}`, task.reason)}`),
              h("span", { class: d.overdue ? "badge status-overdue" : "muted" }, `${d.overdue ? `${t("desk.overdue")} · ` : ""}${t("desk.due_at", { at: formatDateTime(task.due_at, tz) })}`)),
            assignControl(task, (value) => patch(`/v1/merchants/${merchantId}/follow-up-tasks/${task.id}`, { assignee: value }), label));
        }))
      : h("p", { class: "empty" }, t("desk.no_due")));
  }

  const complaintSection = h("section", { class: "stack", "aria-labelledby": "desk-complaints" }, h("h2", { id: "desk-complaints" }, t("desk.complaints")));
  if (complaints.status === "rejected") complaintSection.append(alertBox("error", t("common.error"), errorText(complaints.reason)));
  else {
    // open work only, the soonest due (and overdue) first
    const items = (complaints.value.items || [])
      .filter((c) => c.status === "open" || c.status === "responded")
      .sort((a, b) => new Date(a.due_at) - new Date(b.due_at));
    complaintSection.append(items.length
      ? h("ol", { class: "desk-list" }, items.map((c) => {
          const label = `${tMaybe(`desk.category_${c.category}`, c.category)} ${formatDateTime(c.due_at, tz)}`;
          return h("li", { class: `desk-item${c.overdue ? " overdue" : ""}`, dataset: { id: c.id } },
            h("div", { class: "desk-main" },
              h("strong", {}, tMaybe(`desk.category_${c.category}`, c.category)),
              h("span", { class: "badge" }, tMaybe(`desk.status_${c.status}`, c.status)),
              c.escalated_at ? h("span", { class: "badge status-overdue" }, t("desk.escalated")) : null,
              h("span", { class: c.overdue ? "badge status-overdue" : "muted" }, `${c.overdue ? `${t("desk.overdue")} · ` : ""}${t("desk.due_at", { at: formatDateTime(c.due_at, tz) })}`),
              h("p", { class: "desk-content" }, c.content),
              h("a", { href: `#/customers/${c.customer_id}` }, t("desk.customer"))),
            assignControl(c, (value) => patch(`/v1/merchants/${merchantId}/complaints/${c.id}`, { assignee: value }), label));
        }))
      : h("p", { class: "empty" }, t("desk.no_complaints")));
  }
  mount(body, dueSection, complaintSection);
}
