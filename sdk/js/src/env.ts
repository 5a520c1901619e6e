// The browser APIs the client uses, injectable so that the protocol logic
// runs under node's test runner with fakes.

/** Env is what the client takes from the browser. */
export interface Env {
  WebSocket: typeof WebSocket;
  RTCPeerConnection: typeof RTCPeerConnection;
  fetch: typeof fetch;
  /** mediaDevices is absent where no microphone can be asked for (insecure origins, tests). */
  mediaDevices?: MediaDevices;
  /** document is where audio elements go; absent in tests. */
  document?: Document;
}

/** browserEnv is the real thing. */
export function browserEnv(): Env {
  const g = globalThis as unknown as Partial<Env> & { navigator?: Navigator };
  return {
    WebSocket: g.WebSocket as typeof WebSocket,
    RTCPeerConnection: g.RTCPeerConnection as typeof RTCPeerConnection,
    fetch: g.fetch ? g.fetch.bind(globalThis) : (undefined as unknown as typeof fetch),
    mediaDevices: g.navigator?.mediaDevices,
    document: g.document,
  };
}
