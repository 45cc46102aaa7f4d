// The playground page: GraphiQL 5 over this service's /graphql, with the browser's cookies
// (same origin): queries and mutations over HTTP POST, subscriptions over a WebSocket on the
// same path. A tab of the README's example query, tabs of messaging and live examples, and a
// bar that says who is signed in.
//
// Everything here is bundled by Vite into dist/ and served by the Go server from the binary:
// the page loads nothing from any other host.
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { DocsIcon, useMonaco } from '@graphiql/react';
import { getOperationAST, parse } from 'graphql';
import { createClient } from 'graphql-ws';
// Monaco's web workers (editor, GraphQL language service, JSON), bundled as local files.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './playground.css';
import { exampleTabs } from './examples/tabs.js';

// The server fills these in (see playground.go); the defaults serve `vite build --watch` setups.
const meta = (name, fallback) => document.querySelector(`meta[name="partizap:${name}"]`)?.content ?? fallback;
const endpoint = meta('endpoint', '/graphql');
const introspection = meta('introspection', 'on') !== 'off';
const demoLogin = meta('demo-login', '');

// fetcher runs a subscription over the WebSocket (see subscribe) and posts every other operation
// to the endpoint with the session cookie (credentials 'same-origin': the page and the API
// share an origin) and the headers of the headers editor.
async function fetcher(params, options) {
  if (isSubscription(params)) return subscribe(params);
  const response = await fetch(endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      Accept: 'application/graphql-response+json, application/json',
      'Content-Type': 'application/json',
      ...(options?.headers ?? {}),
    },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 500)}` }] };
  }
}

// isSubscription says whether the operation GraphiQL runs is a subscription. A document that
// does not parse goes over HTTP, and the server says what is wrong with it.
function isSubscription({ query, operationName }) {
  try {
    return getOperationAST(parse(query), operationName || undefined)?.operation === 'subscription';
  } catch {
    return false;
  }
}

// socketURL is the endpoint on this page's own origin, as a WebSocket: ws: beside http:, wss:
// beside https:. The page's policy (connect-src 'self') allows it and nothing else.
function socketURL() {
  const url = new URL(endpoint, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

// live is the page's one graphql-ws client (graphql-transport-ws), made on the first
// subscription. It opens its socket when a subscription starts and closes it when the last one
// stops (GraphiQL stops a tab's subscription on the stop button, and on a switch to another
// tab). The browser sends the session cookie with the socket, as with any request to this
// origin; a browser's WebSocket carries no headers of the page's, so the headers editor's go
// with HTTP requests only. It reconnects only when the server asks for it: after 1001 (the
// instance is shutting down) and 1013 (this page fell behind); anything else ends the
// subscription with a message in the response pane rather than in a minute of silent retries.
let live;
function liveClient() {
  live ??= createClient({
    url: socketURL(),
    shouldRetry: (event) => event?.code === 1001 || event?.code === 1013,
  });
  return live;
}

// subscribe runs a subscription on the live client, as the observable GraphiQL expects of a
// fetcher: its response pane shows each event as it comes, and its stop button unsubscribes.
function subscribe(params) {
  return {
    subscribe(observer) {
      const unsubscribe = liveClient().subscribe(params, {
        next: (result) => observer.next(result),
        error: (error) => observer.error(socketError(error)),
        complete: () => observer.complete(),
      });
      return { unsubscribe };
    },
  };
}

// socketError is what the response pane shows when a subscription ends in error: the server's
// GraphQL errors as they are (the protocol's "error" message), or what became of the socket.
function socketError(error) {
  if (Array.isArray(error)) return error;
  if (error instanceof Error) return { message: error.message };
  if (typeof error?.code === 'number') {
    // A CloseEvent: the server's close code and reason.
    return { message: `The subscription's WebSocket closed: ${error.code}${error.reason ? ` ${error.reason}` : ''}` };
  }
  // The browser tells a page nothing about a WebSocket that did not open.
  return {
    message:
      `The subscription's WebSocket to ${socketURL()} did not open: the server refuses one without a session` +
      ' (sign in) or from a page of another origin; the browser console may say more.',
  };
}

// Who is signed in: null while asking, then { user } or { error }.
function useViewer() {
  const [viewer, setViewer] = useState(null);
  useEffect(() => {
    fetcher({ query: '{ viewer { databaseId displayName } }', operationName: null })
      .then((r) => setViewer(r.errors?.length ? { error: r.errors[0].message } : { user: r.data?.viewer ?? null }))
      .catch((e) => setViewer({ error: String(e) }));
  }, []);
  return viewer;
}

function Code({ children }) {
  return <code className="pz-code">{children}</code>;
}

function SignInHint() {
  if (demoLogin) {
    return (
      <span data-testid="sign-in-hint">
        Not signed in: vendor data answers <Code>UNAUTHENTICATED</Code>.{' '}
        <a href={demoLogin}>Sign in as the demo vendor</a> (or <Code>{demoLogin}?user=ID</Code>).
      </span>
    );
  }
  return (
    <span data-testid="sign-in-hint">
      Not signed in: vendor data answers <Code>UNAUTHENTICATED</Code>. Create a session with{' '}
      <Code>go run . session --user ID</Code> and set it as the <Code>PARTIZAP_SESSION</Code> cookie
      of this site (README, “Signing in”), or, for exploring, restart the service with{' '}
      <Code>DEMO_LOGIN=true</Code> to sign in from here.
    </span>
  );
}

function Bar() {
  const viewer = useViewer();
  let who;
  if (viewer === null) {
    who = <span>Checking the session…</span>;
  } else if (viewer.error) {
    who = <span data-testid="viewer-error">Could not check the session: {viewer.error}</span>;
  } else if (viewer.user) {
    who = (
      <span data-testid="viewer">
        Signed in as <strong>{viewer.user.displayName}</strong> (user {viewer.user.databaseId})
        {demoLogin && (
          <>
            {' · '}another user: <Code>{demoLogin}?user=ID</Code>
          </>
        )}
      </span>
    );
  } else {
    who = <SignInHint />;
  }
  return (
    <header className="pz-bar">
      <span className="pz-title">Partizap vendor inbox</span>
      <span className="pz-who">{who}</span>
      {!introspection && (
        <span className="pz-notice" data-testid="introspection-off">
          Introspection is switched off on this server (<Code>GRAPHQL_INTROSPECTION=false</Code>), so the
          documentation explorer and autocompletion are empty; queries still run.
        </span>
      )}
    </header>
  );
}

// Without introspection the documentation explorer has nothing to show: this stands in for it
// and says why.
const DOCS_OFF_PLUGIN = {
  title: 'Documentation Explorer',
  icon: DocsIcon,
  content: () => (
    <div className="pz-docs-off" data-testid="docs-off">
      <p>
        <strong>No documentation:</strong> this server does not answer introspection queries
        (<Code>GRAPHQL_INTROSPECTION=false</Code>).
      </p>
      <p>The schema is <Code>schema.graphqls</Code> in the repository; queries still run.</p>
    </div>
  ),
};

// useWrappedEditors has every editor of the page wrap its lines at its width, as the response
// editor does already: the example queries' longer lines stay in view beside the documentation
// explorer, without a horizontal scroll. GraphiQL takes no options for its editors; Monaco tells
// of each one it creates (the editors made before Monaco reached this component are updated here).
function useWrappedEditors() {
  const monaco = useMonaco((state) => state.monaco);
  useEffect(() => {
    if (!monaco) return undefined;
    const wrap = (editor) => editor.updateOptions({ wordWrap: 'on' });
    monaco.editor.getEditors().forEach(wrap);
    const created = monaco.editor.onDidCreateEditor(wrap);
    return () => created.dispose();
  }, [monaco]);
}

function App() {
  useWrappedEditors();
  return (
    <div className="pz-app">
      <Bar />
      <GraphiQL
        fetcher={fetcher}
        defaultTabs={exampleTabs}
        // Open on the variables: every example but the first has some.
        defaultEditorToolsVisibility="variables"
        isHeadersEditorEnabled
        plugins={[HISTORY_PLUGIN]}
        {...(introspection ? {} : { schema: null, referencePlugin: DOCS_OFF_PLUGIN })}
      />
    </div>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
