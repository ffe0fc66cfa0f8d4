/**
 * Siyu's GraphiQL page. Bundled by scripts/build-web.mjs into dist/web/graphiql/ and served by
 * src/platform/graphql/graphiql.ts; nothing is fetched from anywhere but this origin at run time.
 *
 * The API key typed into the bar above GraphiQL lives in sessionStorage only (gone when the tab
 * closes) and is sent as `Authorization: Bearer <key>` over HTTP and as
 * `connectionParams.authorization` over the graphql-ws socket.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';
import './siyu.css';

const KEY_STORAGE = 'siyu.graphiql.apiKey';

const DEFAULT_QUERY = `# Siyu GraphiQL. Paste an API key in the bar
# above, press "Use key", then run (Ctrl-Enter).

{
  me {
    role
    workspace {
      name
    }
  }
}
`;

function readKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function storeKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key still works for this page's lifetime.
  }
}

/** Header names are case-insensitive over HTTP but not as connectionParams: normalise to lower case. */
function lowerCaseKeys(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function createFetcher(endpoint: string, key: string): Fetcher {
  const url = new URL(endpoint, window.location.href);
  const subscriptionUrl = new URL(url);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const inner = createGraphiQLFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
    headers: auth,
    wsConnectionParams: auth,
  });
  // Headers typed into GraphiQL's own headers editor override the key bar (HTTP and WebSocket alike).
  return (params, opts) =>
    inner(params, opts?.headers ? { ...opts, headers: lowerCaseKeys(opts.headers) } : opts);
}

function App({ endpoint }: { endpoint: string }) {
  const [key, setKey] = useState(readKey);
  const [draft, setDraft] = useState(key);
  const fetcher = useMemo(() => createFetcher(endpoint, key), [endpoint, key]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next = draft.trim();
    storeKey(next);
    setKey(next);
  };
  const forget = () => {
    storeKey('');
    setDraft('');
    setKey('');
  };

  return (
    <div className="siyu-shell">
      <form className="siyu-keybar" onSubmit={apply} autoComplete="off">
        <span className="siyu-title">Siyu</span>
        <label htmlFor="siyu-api-key">API key</label>
        <input
          id="siyu-api-key"
          name="siyu-api-key"
          type="password"
          autoComplete="off"
          value={draft}
          placeholder="paste a key; sent as Authorization: Bearer <key>"
          spellCheck={false}
          onChange={(e) => setDraft(e.target.value)}
        />
        <button type="submit">Use key</button>
        <button type="button" onClick={forget} disabled={!key && !draft}>
          Forget
        </button>
        <span className={key ? 'siyu-status siyu-status-on' : 'siyu-status'}>
          {key ? 'key in use (this tab only)' : 'no key: requests are anonymous'}
        </span>
      </form>
      <div className="siyu-graphiql">
        <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} shouldPersistHeaders={false} />
      </div>
    </div>
  );
}

const root = document.getElementById('siyu-root');
if (root) {
  const endpoint = root.dataset.endpoint || '/graphql';
  createRoot(root).render(<App endpoint={endpoint} />);
}
