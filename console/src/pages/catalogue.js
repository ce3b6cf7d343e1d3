// Catalogue of the chosen shop: what it sells (offerings: create, edit, archive, restore), its
// photos (upload, delete, reorder), its description and features, and special hours (holidays,
// closures, changed hours on a date). Prices are typed in yuan and sent in fen; the server
// refuses bad input with a problem naming the field, shown under the form that sent it.
import { api, del, get, patch, post, put, query } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatMoney, t } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, loading, parseYuan, statusLine, yuanInput } from "./common.js";

const PHOTO_KINDS = ["storefront", "interior", "product"];

/** Every page of a cursor-paginated list (a shop has tens of offerings, not thousands). */
async function all(path, params = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(`${path}${query({ ...params, limit: 100, cursor })}`);
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** "wifi, 停车、刷卡" → ["wifi", "停车", "刷卡"] (commas or 、, blanks dropped, duplicates once). */
export function parseFeatures(text) {
  return [...new Set(String(text || "").split(/[,，、\n]/).map((s) => s.trim()).filter(Boolean))];
}

export async function renderCatalogue(main) {
  const shopId = session.shop.id;
  const body = h("div", { class: "stack" }, loading());
  mount(main, h("section", { class: "card wide catalogue" }, heading(t("catalogue.title")), h("p", { class: "shop-name" }, t("counter.shop", { name: session.shop.name })), body));
  main.querySelector("h1").focus();

  let shop;
  let offerings;
  let photos;
  try {
    [shop, offerings, photos] = await Promise.all([
      get(`/v1/shops/${shopId}`),
      all(`/v1/shops/${shopId}/offerings`, { include_archived: true }),
      all(`/v1/shops/${shopId}/photos`),
    ]);
  } catch (error) {
    return mount(body, alertBox("error", t("common.error"), errorText(error)));
  }

  const offeringsArea = h("section", { class: "stack", "aria-labelledby": "cat-offerings" });
  const photosArea = h("section", { class: "stack", "aria-labelledby": "cat-photos" });
  const shopArea = h("section", { class: "stack", "aria-labelledby": "cat-shop" });
  const hoursArea = h("section", { class: "stack", "aria-labelledby": "cat-hours" });
  mount(body, offeringsArea, photosArea, shopArea, hoursArea);

  // -- offerings ---------------------------------------------------------------------------
  function offeringForm(offering, onDone) {
    const name = h("input", { type: "text", name: "name", maxlength: "120", required: true, value: offering?.name || "" });
    const price = h("input", { type: "text", name: "price", inputmode: "decimal", autocomplete: "off", placeholder: "0.00", value: offering ? yuanInput(offering.price) : "" });
    const description = h("textarea", { name: "description", rows: "2", maxlength: "4000" });
    description.value = offering?.description || "";
    const bookable = h("input", { type: "checkbox", name: "bookable", checked: Boolean(offering?.bookable) });
    const status = statusLine();
    const save = h("button", { type: "submit", class: "btn btn-primary" }, offering ? t("common.save") : t("catalogue.add_offering"));
    const form = h(
      "form",
      {
        class: "offering-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const amount = parseYuan(price.value);
          if (!name.value.trim()) return name.focus();
          if (amount === null || Number.isNaN(amount) || amount <= 0) {
            price.setAttribute("aria-invalid", "true");
            status.show("error", t("catalogue.price_invalid"));
            return price.focus();
          }
          price.removeAttribute("aria-invalid");
          const data = {
            name: name.value.trim(),
            description: description.value.trim(),
            price: { amount, currency: offering?.price?.currency || "CNY" },
            bookable: bookable.checked,
          };
          save.disabled = true;
          try {
            const saved = offering
              ? await patch(`/v1/offerings/${offering.id}`, data)
              : await post(`/v1/shops/${shopId}/offerings`, data);
            onDone(saved);
          } catch (error) {
            status.show("error", errorText(error));
          } finally {
            save.disabled = false;
          }
        },
      },
      h("div", { class: "form-grid" },
        field(t("catalogue.name"), name),
        field(t("catalogue.price"), price),
        field(t("catalogue.description"), description),
        h("label", { class: "check" }, bookable, h("span", {}, t("catalogue.bookable"))),
      ),
      h("div", { class: "button-row" }, save,
        offering ? h("button", { type: "button", class: "btn btn-ghost", onclick: () => onDone(null) }, t("common.cancel")) : null),
      status,
    );
    return form;
  }

  function offeringRow(offering) {
    const row = h("li", { class: `offering${offering.active ? "" : " archived"}`, dataset: { id: offering.id } });
    const status = statusLine();
    const show = () =>
      mount(
        row,
        h("div", { class: "offering-main" },
          h("strong", { class: "offering-name" }, offering.name),
          h("span", { class: "offering-price" }, formatMoney(offering.price)),
          offering.bookable ? h("small", { class: "badge" }, t("catalogue.bookable_badge")) : null,
          offering.active ? null : h("small", { class: "badge status-ended" }, t("catalogue.archived")),
          offering.description ? h("p", { class: "muted" }, offering.description) : null,
        ),
        h("div", { class: "row-actions" },
          h("button", { type: "button", class: "btn btn-secondary", "aria-label": `${t("common.edit")} ${offering.name}`, onclick: edit }, t("common.edit")),
          offering.active
            ? h("button", { type: "button", class: "btn btn-ghost", "aria-label": `${t("catalogue.archive")} ${offering.name}`, onclick: archive }, t("catalogue.archive"))
            : h("button", { type: "button", class: "btn btn-ghost", "aria-label": `${t("catalogue.restore")} ${offering.name}`, onclick: restore }, t("catalogue.restore")),
        ),
        status,
      );
    const edit = () => {
      mount(row, offeringForm(offering, (saved) => {
        if (saved) offering = saved;
        show();
        row.querySelector("button")?.focus();
      }));
      row.querySelector("input").focus();
    };
    const archive = async () => {
      if (!window.confirm(t("catalogue.archive_confirm", { name: offering.name }))) return;
      try {
        await del(`/v1/offerings/${offering.id}`);
        offering = { ...offering, active: false };
        show();
      } catch (error) {
        status.show("error", errorText(error));
      }
    };
    const restore = async () => {
      try {
        offering = await patch(`/v1/offerings/${offering.id}`, { active: true });
        show();
      } catch (error) {
        status.show("error", errorText(error));
      }
    };
    show();
    return row;
  }

  function renderOfferings() {
    const list = h("ul", { class: "offerings" }, offerings.map(offeringRow));
    const add = offeringForm(null, (saved) => {
      offerings.push(saved);
      renderOfferings();
      offeringsArea.querySelector(`[data-id="${saved.id}"] button`)?.focus();
    });
    mount(
      offeringsArea,
      h("h2", { id: "cat-offerings" }, t("catalogue.offerings")),
      offerings.length ? list : h("p", { class: "empty" }, t("catalogue.no_offerings")),
      h("h3", {}, t("catalogue.new_offering")),
      add,
    );
  }

  // -- photos ------------------------------------------------------------------------------
  const photoStatus = statusLine();
  async function reorder(ids) {
    try {
      const ordered = await put(`/v1/shops/${shopId}/photos/order`, { photo_ids: ids });
      photos = ordered;
      renderPhotos();
      photoStatus.show("ok", t("catalogue.photos_reordered"));
    } catch (error) {
      photoStatus.show("error", errorText(error));
    }
  }

  function renderPhotos() {
    const ids = photos.map((p) => p.id);
    const move = (index, by) => {
      const next = [...ids];
      const [one] = next.splice(index, 1);
      next.splice(index + by, 0, one);
      return reorder(next);
    };
    const grid = h(
      "ol",
      { class: "photos" },
      photos.map((photo, i) =>
        h("li", { class: "photo", dataset: { id: photo.id } },
          h("img", { src: photo.thumbnail_url, alt: t("catalogue.photo_alt", { n: i + 1, kind: t(`photo.${photo.kind}`) }), loading: "lazy" }),
          h("span", { class: "photo-caption" }, `${i + 1}. ${t(`photo.${photo.kind}`)}`),
          h("div", { class: "row-actions" },
            h("button", { type: "button", class: "btn btn-ghost", disabled: i === 0, "aria-label": t("catalogue.move_up", { n: i + 1 }), onclick: () => move(i, -1) }, "↑"),
            h("button", { type: "button", class: "btn btn-ghost", disabled: i === photos.length - 1, "aria-label": t("catalogue.move_down", { n: i + 1 }), onclick: () => move(i, 1) }, "↓"),
            h("button", {
              type: "button",
              class: "btn btn-ghost btn-danger",
              "aria-label": t("catalogue.delete_photo", { n: i + 1 }),
              onclick: async () => {
                if (!window.confirm(t("catalogue.delete_photo_confirm"))) return;
                try {
                  await del(`/v1/photos/${photo.id}`);
                  photos = photos.filter((p) => p.id !== photo.id);
                  renderPhotos();
                  photoStatus.show("ok", t("catalogue.photo_deleted"));
                } catch (error) {
                  photoStatus.show("error", errorText(error));
                }
              },
            }, t("common.delete")),
          ),
        ),
      ),
    );
    const file = h("input", { type: "file", name: "file", accept: "image/jpeg,image/png,image/webp" });
    const kind = h("select", { name: "kind" }, PHOTO_KINDS.map((k) => h("option", { value: k }, t(`photo.${k}`))));
    const upload = h("button", { type: "submit", class: "btn btn-primary" }, t("catalogue.upload"));
    const form = h(
      "form",
      {
        class: "inline-form",
        onsubmit: async (event) => {
          event.preventDefault();
          if (!file.files.length) return file.focus();
          const data = new FormData();
          data.append("file", file.files[0]);
          data.append("kind", kind.value);
          upload.disabled = true;
          photoStatus.show("ok", t("catalogue.uploading"));
          try {
            photos.push(await api("POST", `/v1/shops/${shopId}/photos`, { multipart: data }));
            renderPhotos();
            photoStatus.show("ok", t("catalogue.photo_uploaded"));
          } catch (error) {
            photoStatus.show("error", errorText(error));
          } finally {
            upload.disabled = false;
          }
        },
      },
      field(t("catalogue.photo_file"), file, t("catalogue.photo_hint")),
      field(t("catalogue.photo_kind"), kind),
      upload,
    );
    mount(
      photosArea,
      h("h2", { id: "cat-photos" }, t("catalogue.photos")),
      photos.length ? grid : h("p", { class: "empty" }, t("catalogue.no_photos")),
      form,
      photoStatus,
    );
  }

  // -- description and features ------------------------------------------------------------
  function renderShop() {
    const description = h("textarea", { name: "description", rows: "4", maxlength: "4000" });
    description.value = shop.description || "";
    const features = h("input", { type: "text", name: "features", value: (shop.features || []).join(", "), autocomplete: "off" });
    const status = statusLine();
    mount(
      shopArea,
      h("h2", { id: "cat-shop" }, t("catalogue.shop")),
      h("form", {
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            shop = await patch(`/v1/shops/${shopId}`, { description: description.value.trim(), features: parseFeatures(features.value) });
            features.value = shop.features.join(", ");
            status.show("ok", t("common.saved"));
          } catch (error) {
            status.show("error", errorText(error));
          }
        },
      },
      field(t("catalogue.shop_description"), description),
      field(t("catalogue.features"), features, t("catalogue.features_hint")),
      h("button", { type: "submit", class: "btn btn-primary" }, t("catalogue.save_shop")),
      status),
    );
  }

  // -- special hours -----------------------------------------------------------------------
  function renderHours() {
    const rows = h("tbody", {});
    const status = statusLine();
    const addRow = (entry = {}) => {
      const n = rows.children.length + 1;
      const date = h("input", { type: "date", name: "date", value: entry.date || "", required: true, "aria-label": t("hours.date_n", { n }) });
      const until = h("input", { type: "date", name: "until", value: entry.until || "", "aria-label": t("hours.until_n", { n }) });
      const closed = h("input", { type: "checkbox", name: "closed", checked: Boolean(entry.closed), "aria-label": t("hours.closed_n", { n }) });
      const open = h("input", { type: "time", name: "open", value: entry.open || "", "aria-label": t("hours.open_n", { n }) });
      const close = h("input", { type: "time", name: "close", value: entry.close || "", "aria-label": t("hours.close_n", { n }) });
      const note = h("input", { type: "text", name: "note", maxlength: "120", value: entry.note || "", "aria-label": t("hours.note_n", { n }) });
      const sync = () => {
        open.disabled = closed.checked;
        close.disabled = closed.checked;
      };
      closed.addEventListener("change", sync);
      sync();
      const tr = h("tr", {},
        h("td", {}, date), h("td", {}, until), h("td", { class: "center" }, closed), h("td", {}, open), h("td", {}, close), h("td", {}, note),
        h("td", {}, h("button", { type: "button", class: "btn btn-ghost", "aria-label": t("hours.remove_n", { n }), onclick: () => tr.remove() }, "✕")),
      );
      tr.read = () => {
        const out = { date: date.value, closed: closed.checked, note: note.value.trim() };
        if (until.value) out.until = until.value;
        if (!closed.checked) {
          out.open = open.value || null;
          out.close = close.value || null;
        }
        return out;
      };
      rows.append(tr);
      return date;
    };
    for (const entry of shop.special_hours || []) addRow(entry);
    mount(
      hoursArea,
      h("h2", { id: "cat-hours" }, t("hours.title")),
      h("p", { class: "hint" }, t("hours.hint")),
      h("form", {
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          const entries = [...rows.children].map((tr) => tr.read());
          try {
            shop = await patch(`/v1/shops/${shopId}`, { special_hours: entries });
            renderHours();
            hoursArea.querySelector(".form-status").show("ok", t("common.saved"));
          } catch (error) {
            status.show("error", errorText(error));
          }
        },
      },
      h("div", { class: "table-area" },
        h("table", { class: "data hours" },
          h("thead", {}, h("tr", {}, ["hours.date", "hours.until", "hours.closed", "hours.open", "hours.close", "hours.note", "hours.actions"].map((k) => h("th", { scope: "col" }, t(k))))),
          rows)),
      h("div", { class: "button-row" },
        h("button", { type: "button", class: "btn btn-secondary", onclick: () => addRow().focus() }, t("hours.add")),
        h("button", { type: "submit", class: "btn btn-primary" }, t("hours.save"))),
      status),
    );
  }

  renderOfferings();
  renderPhotos();
  renderShop();
  renderHours();
}
