// The console's entry: hash routes, the top bar, language switch.
import { h, mount } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { renderBookings } from "./pages/bookings.js";
import { renderCampaign, renderCampaignNew, renderCampaigns } from "./pages/campaigns.js";
import { renderCatalogue } from "./pages/catalogue.js";
import { renderChoose } from "./pages/choose.js";
import { renderDayClose } from "./pages/dayclose.js";
import { renderDesk } from "./pages/desk.js";
import { renderCounter } from "./pages/counter.js";
import { renderCustomer, renderCustomers } from "./pages/customers.js";
import { renderSettings } from "./pages/settings.js";
import { renderSignin } from "./pages/signin.js";
import { session } from "./state.js";

const ROUTES = [
  { path: /^signin$/, render: renderSignin, public: true },
  { path: /^choose$/, render: renderChoose, needs: [] },
  { path: /^counter$/, render: renderCounter, needs: ["merchant", "shop"], nav: "counter" },
  { path: /^customers$/, render: renderCustomers, needs: ["merchant"], nav: "customers" },
  { path: /^customers\/([\w-]+)$/, render: renderCustomer, needs: ["merchant"], nav: "customers" },
  { path: /^campaigns$/, render: renderCampaigns, needs: ["merchant"], nav: "campaigns" },
  { path: /^campaigns\/new$/, render: renderCampaignNew, needs: ["merchant"], nav: "campaigns" },
  { path: /^campaigns\/([\w-]+)$/, render: renderCampaign, needs: ["merchant"], nav: "campaigns" },
  { path: /^catalogue$/, render: renderCatalogue, needs: ["merchant", "shop"], nav: "catalogue" },
  { path: /^day-close$/, render: renderDayClose, needs: ["merchant", "shop"], nav: "day-close" },
  { path: /^bookings$/, render: renderBookings, needs: ["merchant", "shop"], nav: "bookings" },
  { path: /^desk$/, render: renderDesk, needs: ["merchant"], nav: "desk" },
  { path: /^settings$/, render: renderSettings, needs: ["merchant"], nav: "settings" },
];

let cleanup = null;

export function navigate(path) {
  const target = `#/${path}`;
  if (location.hash === target) route();
  else location.hash = target;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  return { path: path || "", params: new URLSearchParams(qs || "") };
}

function renderTopbar(active) {
  const bar = document.getElementById("topbar");
  const langButton = h(
    "button",
    {
      type: "button",
      class: "btn btn-ghost",
      id: "lang-switch",
      lang: lang() === "zh-CN" ? "en" : "zh-CN",
      "aria-label": t("lang.switch_label"),
      onclick: async () => {
        // what the user typed survives the switch: the page is rendered again in the new language
        const typed = snapshotInputs();
        setLang(lang() === "zh-CN" ? "en" : "zh-CN");
        await route();
        restoreInputs(typed);
        document.getElementById("lang-switch")?.focus();
      },
    },
    t("lang.switch"),
  );
  const children = [h("span", { class: "brand" }, t("app.brand"))];
  if (session.signedIn && session.merchant) {
    const links = [
      ["counter", t("nav.counter")],
      ["customers", t("nav.customers")],
      ["campaigns", t("nav.campaigns")],
      ["catalogue", t("nav.catalogue")],
      ["bookings", t("nav.bookings")],
      ["desk", t("nav.desk")],
      ["day-close", t("nav.dayclose")],
      ["settings", t("nav.settings")],
    ].map(([key, label]) =>
      h(
        "a",
        { href: `#/${key}`, class: "nav-link", "aria-current": key === active ? "page" : undefined },
        label,
      ),
    );
    children.push(h("nav", { "aria-label": t("nav.main") }, links));
    const context = [session.merchant.name, session.shop?.name].filter(Boolean).join(" · ");
    // the shop switch is a visible control (a button-like link), not a line of small text
    children.push(
      h("a", { href: "#/choose", class: "btn btn-ghost shop-switch", title: `${t("nav.change")}: ${context}`, "aria-label": `${t("nav.change")}: ${context}` },
        h("span", { class: "shop-switch-icon", "aria-hidden": "true" }, "⇄"),
        h("span", { class: "shop-switch-name" }, session.shop?.name || session.merchant.name)),
    );
  }
  children.push(h("span", { class: "spacer" }));
  children.push(langButton);
  if (session.signedIn) {
    children.push(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost",
          onclick: () => {
            const refresh = session.refreshToken;
            session.signOut();
            if (refresh) {
              fetch("/v1/auth/logout", {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ refresh_token: refresh }),
              }).catch(() => {});
            }
          },
        },
        t("nav.signout"),
      ),
    );
  }
  mount(bar, children);
}

/** The values of the page's named fields (passwords and files excepted), by name and position. */
function fieldsOf(root) {
  const seen = new Map();
  return [...root.querySelectorAll("input[name], select[name], textarea[name]")]
    .filter((el) => el.type !== "password" && el.type !== "file")
    .map((el) => {
      const n = seen.get(el.name) || 0;
      seen.set(el.name, n + 1);
      return { key: `${el.name}#${n}`, el };
    });
}

function snapshotInputs() {
  const saved = new Map();
  for (const { key, el } of fieldsOf(document.getElementById("main"))) {
    saved.set(key, el.type === "checkbox" || el.type === "radio" ? { checked: el.checked } : { value: el.value });
  }
  return saved;
}

function restoreInputs(saved) {
  for (const { key, el } of fieldsOf(document.getElementById("main"))) {
    const before = saved.get(key);
    if (!before) continue;
    if ("checked" in before) {
      if (el.checked !== before.checked) {
        el.checked = before.checked;
        el.dispatchEvent(new Event("change", { bubbles: true })); // e.g. the counter's mode
      }
    } else if (el.value !== before.value) {
      el.value = before.value;
    }
  }
}

async function route() {
  document.documentElement.lang = lang();
  document.title = t("app.title");
  document.querySelector(".skip-link").textContent = t("app.skip");
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a page's cleanup must never block navigation */
    }
    cleanup = null;
  }
  const { path, params } = parseHash();
  if (!session.signedIn && path !== "signin") return navigate("signin");
  if (path === "" || (path === "signin" && session.signedIn)) {
    return navigate(session.merchant && session.shop ? "counter" : "choose");
  }
  const found = ROUTES.map((r) => ({ r, m: r.path.exec(path) })).find((x) => x.m);
  if (!found) return navigate("choose");
  const { r, m } = found;
  if (r.needs?.includes("merchant") && !session.merchant) return navigate("choose");
  if (r.needs?.includes("shop") && !session.shop) return navigate("choose");
  renderTopbar(r.nav);
  const main = document.getElementById("main");
  main.dataset.page = path.split("/")[0];
  mount(main);
  const result = await r.render(main, { params, id: m[1], navigate });
  if (typeof result === "function") cleanup = result;
}

session.onSignOut(() => navigate("signin"));
window.addEventListener("hashchange", route);
setLang(lang());
route();
