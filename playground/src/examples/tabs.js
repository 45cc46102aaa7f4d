// The playground's tabs (GraphiQL's defaultTabs): the README's inbox query first, then a tour
// of messaging in the order a vendor's client works, then the live updates (subscriptions),
// each with variables that run as they are on the demo data. The comment atop each operation
// says what it shows.
import inbox from '../example.graphql?raw';
import thread from './thread.graphql?raw';
import threadVariables from './thread.json?raw';
import reply from './reply.graphql?raw';
import replyVariables from './reply.json?raw';
import markRead from './mark-read.graphql?raw';
import markReadVariables from './mark-read.json?raw';
import unread from './unread.graphql?raw';
import unreadVariables from './unread.json?raw';
import liveInbox from './live-inbox.graphql?raw';
import liveInboxVariables from './live-inbox.json?raw';
import liveThread from './live-thread.graphql?raw';
import liveThreadVariables from './live-thread.json?raw';

// GraphiQL 5.4 fills the editors of the first tab from its query alone (its variables would show
// only after switching tabs), so the first tab is the one without variables.
export const exampleTabs = [
  { query: inbox },
  { query: thread, variables: threadVariables },
  { query: reply, variables: replyVariables },
  { query: markRead, variables: markReadVariables },
  { query: unread, variables: unreadVariables },
  { query: liveInbox, variables: liveInboxVariables },
  { query: liveThread, variables: liveThreadVariables },
];
