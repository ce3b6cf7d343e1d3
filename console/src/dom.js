// A tiny DOM builder: text is always set as text (never parsed as HTML).
const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" && "value" in el) {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replace the content of `el` and return it. */
export function mount(el, ...children) {
  clear(el);
  return build(el, {}, children);
}

let uid = 0;
export function fieldId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: <label for> + control (+ hint wired with aria-describedby). */
export function field(labelText, control, hintText) {
  const id = control.id || fieldId("f");
  control.id = id;
  const parts = [h("label", { for: id }, labelText), control];
  if (hintText) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId }, hintText));
  }
  return h("div", { class: "field" }, parts);
}
