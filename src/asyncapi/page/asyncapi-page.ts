/**
 * Renders /asyncapi.json with AsyncAPI's own React component (its standalone
 * bundle, served by the gateway: no CDN, no inline script).
 */
interface AsyncApiStandalone {
  render(props: { schema: unknown; config: Record<string, unknown> }, element: HTMLElement): void;
}

declare global {
  interface Window {
    AsyncApiStandalone?: AsyncApiStandalone;
  }
}

async function show(): Promise<void> {
  const element = document.getElementById('asyncapi')!;
  const renderer = window.AsyncApiStandalone;
  if (!renderer) {
    element.textContent = 'The AsyncAPI viewer did not load; the document is at /asyncapi.json.';
    return;
  }
  const response = await fetch(element.dataset.document ?? '/asyncapi.json');
  const schema = await response.text();
  renderer.render(
    {
      schema,
      config: {
        show: { sidebar: true, info: true, servers: false, operations: true, messages: true, schemas: true, errors: true },
        sidebar: { showOperations: 'byDefault' },
      },
    },
    element,
  );
}

void show();

export {};
