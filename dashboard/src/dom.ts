/** Small DOM helpers: the page is plain DOM, no framework (it would not earn its weight here). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (children.length) e.append(...children);
  return e;
}

/** Sets text only when it changed: most live updates change nothing visible. */
export function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setClass(node: Element, cls: string): void {
  if (node.className !== cls) node.className = cls;
}

export function setAttr(node: Element, name: string, value: string): void {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** Calls `fn` once on the next animation frame however often it is asked. */
export function frameBatcher(fn: () => void): { request(): void; cancel(): void } {
  let id = 0;
  return {
    request() {
      if (!id) id = requestAnimationFrame(() => {
        id = 0;
        fn();
      });
    },
    cancel() {
      if (id) cancelAnimationFrame(id);
      id = 0;
    },
  };
}
