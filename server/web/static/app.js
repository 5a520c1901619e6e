// voicectl browser client: joins a room over /v1/rtc (see docs/signalling.md).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const state = {
  token: params.get("token") || "",
  room: params.get("room") || "",
  name: params.get("name") || "",
  publish: params.get("publish") !== "0",
  ws: null,
  pc: null,
  mic: null,
  muted: false,
  peerId: "",
  peers: new Map(), // id -> {identity, muted, speaking}
  left: false,
  retry: 0,
  error: "",
  connected: false,
  cluster: false, // served by `voicectl api`: join through it, again after every reconnect
  signal: "",     // the room's server, from the API
  server: "",
  // Media connection health (RTCPeerConnection.iceConnectionState) and the
  // path the media takes (the selected candidate pair), for the tests and a
  // curious user.
  iceState: "new",
  path: null,       // {protocol, localType, remoteType, relayProtocol, remote}
  reconnecting: false,
  restarts: 0,      // ICE restarts asked for (restart_ice)
  resumes: 0,       // signalling sessions resumed on a new WebSocket
  rejoins: 0,       // full joins after the first
  rejoinReason: "", // why the last one (for tests and the console)
  // Signalling resume (docs/signalling.md): the server's resume_token, the
  // last seq seen each way, and what was sent but not known to have arrived.
  resumeToken: "",
  seqIn: 0,
  seqOut: 0,
  unacked: [],      // [{seq, msg}], oldest first
  duplicates: 0,    // server messages dropped as already seen
  canRestart: true, // false once the server said it knows no restart_ice
};
window.voicectl = state; // inspected by the end-to-end tests

// How long the media may stay "disconnected" before the page asks for an ICE
// restart (Chromium says disconnected after ~2.5 s without an answer; a short
// blip heals by itself), and how long a restart may take before another.
const restartAfterDisconnectMs = 2000;
const restartRetryMs = [4000, 8000, 8000];
// Resume attempts on a dropped WebSocket stop after this, then a full join;
// the server keeps a dropped peer for signal.resume_window (20 s by default).
const resumeForMs = 15000;
// Client messages kept for replay after a resume: enough for minutes of
// mutes and a renegotiation's candidates, bounded on a page left open.
const maxUnacked = 512;

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
  if (isError) state.error = text;
}

const errorText = {
  no_capacity: "The server is full: there is no capacity for another peer right now. Try again later.",
  unauthorized: "This join link is not valid (the token was refused).",
  token_expired: "This join link has expired. Ask for a new one.",
};

// clusterJoin asks the API where the room lives now and for a token there.
async function clusterJoin(room, name, publish) {
  const q = new URLSearchParams({ room, identity: name, publish: publish ? "1" : "0" });
  const r = await fetch("/v1/dev/join?" + q);
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || "could not join through the API");
  state.signal = body.signal_url;
  state.server = body.server;
  return body.token;
}

async function devToken(room, name, publish) {
  const q = new URLSearchParams({ room, identity: name, publish: publish ? "1" : "0" });
  const r = await fetch("/v1/dev/token?" + q);
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || "could not get a dev token");
  return body.token;
}

function renderPeers() {
  const ul = $("peers");
  ul.textContent = "";
  for (const [id, p] of state.peers) {
    const li = document.createElement("li");
    li.dataset.peer = id;
    li.textContent = p.identity + (id === state.peerId ? " (you)" : "");
    if (p.speaking) li.classList.add("speaking");
    if (p.muted) li.classList.add("muted");
    if (p.quality) {
      // connection_quality (docs/signalling.md): level and score 0-100.
      const q = document.createElement("span");
      q.className = "quality " + p.quality.level;
      q.textContent = p.quality.level === "lost" ? "lost" : p.quality.level + " " + p.quality.score;
      li.dataset.quality = p.quality.level;
      li.appendChild(q);
    }
    ul.appendChild(li);
  }
}

// send numbers every message once the server speaks seq (its joined carried
// a resume_token) and keeps it until a resume says the server has it; a
// server without seq gets the messages as before (it refuses unknown fields).
function send(msg) {
  if (state.resumeToken) {
    msg.seq = ++state.seqOut;
    state.unacked.push({ seq: msg.seq, msg });
    if (state.unacked.length > maxUnacked) state.unacked.shift();
  }
  // While a resume is under way, the replay after resumed sends it.
  if (!state.wsDown) sendRaw(msg);
}

function sendRaw(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function recvonlyMids(sdp) {
  const mids = [];
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /a=mid:(\S+)/.exec(section);
    if (mid && /a=recvonly/.test(section)) mids.push(mid[1]);
  }
  return mids;
}

// Offers are applied one at a time, in order: an ICE-restart offer may follow
// a track offer before its answer is made. The chain belongs to its
// connection: an operation under way when a connection is closed may never
// settle, and must not hold up the next connection's offers.
const negotiations = new WeakMap(); // RTCPeerConnection -> Promise

function queueOffer(sdp) {
  const pc = state.pc;
  if (!pc) return;
  const chain = (negotiations.get(pc) || Promise.resolve())
    .then(() => (state.pc === pc ? onOffer(sdp) : undefined))
    .catch((e) => {
      if (state.pc === pc) setStatus("Negotiation failed: " + e, true);
    });
  negotiations.set(pc, chain);
}

// withDTX adds usedtx=1 (RFC 7587 section 6.1) to the Opus fmtp line, as
// LiveKit's SDK does: silence then costs a packet per 400 ms, not 50 a
// second. libwebrtc configures its encoder from the remote description's
// Opus parameters, so the offer gets it before it is applied; the answer
// gets it so the server sees the page sends DTX.
function withDTX(sdp) {
  const opus = /a=rtpmap:(\d+) opus\/48000\/2/i.exec(sdp);
  if (!opus) return sdp;
  const line = new RegExp("^(a=fmtp:" + opus[1] + " (?:(?!usedtx=)[^\r\n])*)(?=\r?$)", "gm");
  return sdp.replace(line, "$1;usedtx=1");
}

// withNACK keeps generic NACK (RFC 4585) on Opus in an answer where the
// offer has it: Chromium's answers leave it out for audio (its Opus lists
// no nack), yet once negotiated its audio receiver asks for lost packets and
// its sender answers, as LiveKit's SDK munges its offers for.
function withNACK(answer, offer) {
  const opus = /a=rtpmap:(\d+) opus\/48000\/2/i.exec(answer);
  if (!opus) return answer;
  const fb = "a=rtcp-fb:" + opus[1] + " nack";
  const has = (sdp) => new RegExp("^" + fb + "\r?$", "m").test(sdp);
  if (!has(offer) || has(answer)) return answer;
  return answer.replace(new RegExp("^a=rtpmap:" + opus[1] + " opus/48000/2\r?\n", "gmi"), (l) => l + fb + "\r\n");
}

async function onOffer(sdp) {
  const pc = state.pc;
  await pc.setRemoteDescription({ type: "offer", sdp: withDTX(sdp) });
  if (state.mic) {
    // The server's recvonly m-line is where our microphone goes.
    for (const mid of recvonlyMids(sdp)) {
      const tr = pc.getTransceivers().find((t) => t.mid === mid);
      if (tr && tr.sender.track !== state.mic) {
        await tr.sender.replaceTrack(state.mic);
        tr.direction = "sendonly";
      }
    }
  }
  const answer = { type: "answer", sdp: withNACK(withDTX((await pc.createAnswer()).sdp), sdp) };
  await pc.setLocalDescription(answer);
  send({ type: "answer", sdp: answer.sdp });
}

// showHealth puts the status back once both the media and the
// signalling are up again.
function showHealth() {
  if (!state.pc || state.left) return;
  const iceUp = state.iceState === "connected" || state.iceState === "completed";
  if (state.ws && state.ws.readyState === WebSocket.OPEN && !state.wsDown && iceUp) {
    state.reconnecting = false;
    if (state.connected) setStatus("Connected.");
  } else if (state.reconnecting) {
    setStatus("reconnecting…");
  }
}

// updatePath reads the selected candidate pair: udp, tcp or a relay (TURN),
// and the server's address, shown to tests as window.voicectl.path.
async function updatePath() {
  const pc = state.pc;
  if (!pc) return;
  const all = await pc.getStats();
  let path = null;
  all.forEach((s) => {
    if (s.type !== "transport" || !s.selectedCandidatePairId) return;
    const pair = all.get(s.selectedCandidatePairId);
    const local = pair && all.get(pair.localCandidateId);
    const remote = pair && all.get(pair.remoteCandidateId);
    if (!local || !remote) return;
    path = {
      protocol: local.protocol,
      localType: local.candidateType,
      remoteType: remote.candidateType,
      relayProtocol: local.relayProtocol || "",
      remote: (remote.address || remote.ip) + ":" + remote.port,
      bytesReceived: pair.bytesReceived || 0,
    };
  });
  if (state.pc === pc) state.path = path;
}

let restartTimer = null;

function clearRestartTimer() {
  clearTimeout(restartTimer);
  restartTimer = null;
}

// requestRestart asks the server for an ICE-restart offer (restart_ice): new
// ICE credentials on the same transport, so the media finds a path that
// works again while DTLS, SRTP and every track stay. Until ICE is up it asks
// again now and then; a server that knows no restart_ice is left to its own
// recovery (its reconnect message).
function requestRestart() {
  clearRestartTimer();
  if (!state.pc || state.left || !state.canRestart || !state.peerId) return;
  const attempt = state.restartAttempt || 0;
  state.restartAttempt = attempt + 1;
  state.restarts++;
  state.reconnecting = true;
  setStatus("reconnecting…");
  send({ type: "restart_ice", id: "restart-" + state.restarts });
  restartTimer = setTimeout(requestRestart, restartRetryMs[Math.min(attempt, restartRetryMs.length - 1)]);
}

function onIceState(pc) {
  if (state.pc !== pc) return;
  state.iceState = pc.iceConnectionState;
  switch (pc.iceConnectionState) {
    case "connected":
    case "completed":
      clearRestartTimer();
      state.restartAttempt = 0;
      updatePath().catch(() => {});
      showHealth();
      break;
    case "disconnected":
      // Often back within a second or two by itself; ask for a restart if not.
      state.reconnecting = true;
      setStatus("reconnecting…");
      if (!restartTimer) restartTimer = setTimeout(requestRestart, restartAfterDisconnectMs);
      break;
    case "failed":
      state.reconnecting = true;
      if (!state.restartAttempt) requestRestart();
      break;
  }
}

function newPeerConnection(iceServers) {
  const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
  pc.onicecandidate = (e) => {
    if (e.candidate) send({ type: "candidate", candidate: e.candidate.toJSON() });
  };
  pc.ontrack = (e) => {
    const stream = e.streams[0] || new MediaStream([e.track]);
    let el = document.querySelector(`audio[data-stream="${stream.id}"]`);
    if (!el) {
      el = document.createElement("audio");
      el.dataset.stream = stream.id;
      el.autoplay = true;
      $("audio").appendChild(el);
    }
    el.srcObject = stream;
    el.play().catch(() => {});
  };
  pc.onconnectionstatechange = () => {
    if (state.pc !== pc) return;
    state.connected = pc.connectionState === "connected";
    if (state.connected && !state.connectMs) state.connectMs = Math.round(performance.now() - state.connectStart);
    if (state.connected) {
      state.wasConnected = true;
      updatePath().catch(() => {});
    }
    if (state.connected) {
      if (state.reconnecting) showHealth();
      else setStatus("Connected.");
    }
  };
  pc.oniceconnectionstatechange = () => onIceState(pc);
  return pc;
}

// The selected pair can change without a state change (a TCP or relay path
// replaced by UDP): read it now and then while connected.
setInterval(() => {
  if (state.connected) updatePath().catch(() => {});
}, 2000);

function teardown() {
  clearRestartTimer();
  clearTimeout(resumeTimer);
  if (state.pc) state.pc.close();
  state.pc = null;
  state.connected = false;
  state.iceState = "closed";
  state.path = null;
  state.restartAttempt = 0;
  state.wsDown = false;
  resetSession();
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
  }
  state.ws = null;
  state.peers.clear();
  $("audio").textContent = "";
  renderPeers();
}

// resetSession forgets a signalling session: a new join starts seq over.
function resetSession() {
  state.resumeToken = "";
  state.seqIn = 0;
  state.seqOut = 0;
  state.unacked = [];
}

function scheduleReconnect(delay) {
  teardown();
  if (state.left) return;
  state.reconnecting = true;
  state.retry++;
  const wait = Math.min(delay + 250 * state.retry, 5000);
  if (state.cluster) state.token = ""; // ask the API again: the room may have moved
  setStatus(`reconnecting… (in ${Math.round(wait / 100) / 10}s)`);
  setTimeout(connect, wait);
}

function onMessage(msg) {
  if (msg.seq) {
    // A message re-sent after a resume that had arrived before: once only.
    if (msg.seq <= state.seqIn) {
      state.duplicates++;
      return;
    }
    state.seqIn = msg.seq;
  }
  switch (msg.type) {
    case "joined":
      if (state.peerId) state.rejoins++;
      state.retry = 0;
      state.peerId = msg.peer_id;
      state.resumeToken = msg.resume_token || "";
      state.reconnecting = false;
      // The connection is made here: joined carries the TURN servers (and
      // their short-lived credentials) this peer may use; the offer follows.
      if (state.pc) state.pc.close();
      state.pc = newPeerConnection(msg.ice_servers);
      state.iceState = state.pc.iceConnectionState;
      // A rejoin (a move, a reconnect) keeps the mute the user chose.
      if (state.muted && state.publish) send({ type: "mute", muted: true });
      state.peers.clear();
      state.peers.set(msg.peer_id, { identity: state.name || "you", muted: state.muted, speaking: false });
      for (const p of msg.peers) state.peers.set(p.id, { identity: p.identity, muted: p.muted, speaking: false });
      $("room-name").textContent = msg.room;
      $("me").textContent = state.name || "(token identity)";
      $("join-form").hidden = true;
      $("call").hidden = false;
      $("mic").hidden = !state.mic;
      renderPeers();
      setStatus("Joined; connecting media…");
      break;
    case "resumed":
      onResumed(msg);
      break;
    case "offer":
      queueOffer(msg.sdp);
      break;
    case "candidate":
      if (state.pc) state.pc.addIceCandidate(msg.candidate).catch(() => {});
      break;
    case "peer_joined":
      state.peers.set(msg.peer.id, { identity: msg.peer.identity, muted: msg.peer.muted, speaking: false });
      renderPeers();
      break;
    case "peer_left":
      state.peers.delete(msg.peer_id);
      renderPeers();
      break;
    case "peer_muted": {
      const p = state.peers.get(msg.peer_id);
      if (p) p.muted = msg.muted;
      renderPeers();
      break;
    }
    case "active_speakers": {
      const speaking = new Set(msg.speakers.map((s) => s.peer_id));
      for (const [id, p] of state.peers) p.speaking = speaking.has(id);
      renderPeers();
      break;
    }
    case "connection_quality":
      for (const q of msg.peers) {
        const p = state.peers.get(q.peer_id);
        if (p) p.quality = { level: q.level, score: q.score };
      }
      renderPeers();
      break;
    case "reconnect":
      state.rejoinReason = "reconnect " + msg.reason;
      scheduleReconnect(msg.delay_ms || 0);
      break;
    case "move":
      // The room moved to another server: join it there now, with the
      // token the old one gave (same room, name and rights).
      teardown();
      state.signal = msg.url;
      state.token = msg.token;
      if (msg.server) state.server = msg.server;
      state.retry = 0;
      setStatus("moving…");
      connect();
      break;
    case "error":
      if (msg.code === "resume_failed") {
        // The server no longer has this session: join from scratch.
        console.info("resume failed:", msg.message);
        state.rejoinReason = "resume_failed: " + msg.message;
        teardown();
        state.retry = 0;
        state.reconnecting = true;
        setStatus("reconnecting…");
        connect();
        break;
      }
      if (!msg.fatal && msg.code === "unknown_type" && /restart_ice/.test(msg.message)) {
        // A server without ICE restarts: its own recovery (a reconnect) is left.
        state.canRestart = false;
        console.debug("restart_ice not known here:", msg.message);
        break;
      }
      if (!msg.fatal && msg.id && msg.id.startsWith("restart-")) {
        // A restart the server could not do now: the page asks again later.
        console.debug("restart_ice not done:", msg.code, msg.message);
        break;
      }
      if (!msg.fatal && msg.code === "bad_candidate") {
        // A candidate the server does not use (TCP, mDNS): nothing for the user.
        console.debug("candidate not used:", msg.message);
        break;
      }
      setStatus(errorText[msg.code] || `Error ${msg.code}: ${msg.message}`, true);
      state.lastErrorCode = msg.code;
      if (msg.fatal && msg.code === "join_timeout" && state.wasConnected) {
        state.rejoinReason = "join_timeout";
        // A rejoin in a long network outage: the media could not connect yet.
        // The call was up before, so the network may well come back: try again.
        scheduleReconnect(1000);
        break;
      }
      if (msg.fatal && state.cluster && (msg.code === "wrong_server" || msg.code === "unavailable")) {
        scheduleReconnect(300); // the room moved, or its server is stopping: ask the API again
        break;
      }
      if (msg.fatal) {
        state.left = true;
        teardown();
      }
      break;
  }
}

async function connect() {
  if (state.left) return;
  try {
    if (!state.token && state.cluster) state.token = await clusterJoin(state.room, state.name, state.publish);
    else if (!state.token) state.token = await devToken(state.room, state.name, state.publish);
  } catch (e) {
    setStatus(String(e.message || e), true);
    if (state.cluster) scheduleReconnect(1000); // the API may be placing the room
    return;
  }
  if (state.publish && !state.mic) {
    try {
      const media = await navigator.mediaDevices.getUserMedia({ audio: true });
      state.mic = media.getAudioTracks()[0];
    } catch (e) {
      setStatus("No microphone (" + e.name + "); joining as a listener.", true);
      state.publish = false;
    }
  }
  resetSession();
  state.canRestart = true;
  state.connectStart = performance.now();
  state.connectMs = 0; // join to media connected (ICE and DTLS), for the tests' figures
  const ws = new WebSocket(signalURL());
  state.ws = ws;
  ws.onopen = () => send({ type: "join", publish: state.publish });
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = (e) => {
    if (state.ws !== ws || state.left) return;
    if (state.resumeToken) {
      startResume();
      return;
    }
    if (state.cluster) {
      scheduleReconnect(300); // its server may have died: the API knows where the room is next
      return;
    }
    if (e.code === 1006 && !state.peerId) {
      // Refused before the upgrade: the token is bad or the server is down.
      fetch(`/v1/rtc?token=${encodeURIComponent(state.token)}`).then((r) => r.json()).then((b) => {
        if (errorText[b.code]) {
          // unauthorized, token_expired, no_capacity: retrying now would not help.
          state.left = true;
          state.lastErrorCode = b.code;
          setStatus(errorText[b.code], true);
          teardown();
        } else scheduleReconnect(1000);
      }).catch(() => scheduleReconnect(1000));
      return;
    }
    state.rejoinReason = "socket closed " + e.code;
    scheduleReconnect(500);
  };
}

// signalURL is the WebSocket to join on, or to resume on (no join token: it
// may have expired since, and the resume token is the credential).
function signalURL(resume) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const base = state.cluster && state.signal ? state.signal.replace(/^http/, "ws") : `${proto}//${location.host}`;
  if (resume) return `${base}/v1/rtc?resume=1`;
  return `${base}/v1/rtc?token=${encodeURIComponent(state.token)}`;
}

let resumeTimer = null;

// startResume: the WebSocket dropped without a leave. The server keeps the
// peer (and its media, which goes on flowing) for signal.resume_window; a
// new WebSocket that opens with resume takes the session back, and each side
// re-sends what the other missed (by seq). If the server no longer has it
// (resume_failed), or no socket opens within resumeForMs, the page joins
// from scratch as before.
function startResume() {
  state.wsDown = true;
  state.reconnecting = true;
  state.resumeStarted = Date.now();
  state.resumeAttempt = 0;
  setStatus("reconnecting…");
  tryResume();
}

function tryResume() {
  clearTimeout(resumeTimer);
  if (state.left) return;
  if (Date.now() - state.resumeStarted > resumeForMs) {
    console.info("resume: no socket within", resumeForMs, "ms; joining again");
    state.rejoinReason = "no resume socket";
    scheduleReconnect(0);
    return;
  }
  const ws = new WebSocket(signalURL(true));
  state.ws = ws;
  ws.onopen = () => sendRaw({ type: "resume", token: state.resumeToken, last_seq: state.seqIn });
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  let opened = false;
  ws.addEventListener("open", () => (opened = true));
  ws.onclose = () => {
    if (state.ws !== ws || state.left) return;
    if (!opened && state.cluster) {
      state.rejoinReason = "server gone";
      // Its server is gone: the API knows where the room is next.
      scheduleReconnect(300);
      return;
    }
    const wait = Math.min(100 * 2 ** state.resumeAttempt++, 1000);
    resumeTimer = setTimeout(tryResume, wait);
  };
}

// onResumed: the new socket carries the session. Re-send what the server
// did not get (its last_seq), in order, with their original seq.
function onResumed(msg) {
  state.resumes++;
  state.wsDown = false;
  state.resumeAttempt = 0;
  if (msg.peer_id) state.peerId = msg.peer_id;
  const got = msg.last_seq || 0;
  if (state.unacked.length && state.unacked[0].seq > got + 1) {
    // What the server is missing is no longer kept: start over.
    console.info("resume: messages after", got, "are gone; joining again");
    state.rejoinReason = "resume gap";
    scheduleReconnect(0);
    return;
  }
  state.unacked = state.unacked.filter((u) => u.seq > got);
  for (const u of state.unacked) sendRaw(u.msg);
  if (state.iceState === "connected" || state.iceState === "completed") showHealth();
  else setStatus("reconnecting…");
}

$("mic").onclick = () => {
  state.muted = !state.muted;
  if (state.mic) state.mic.enabled = !state.muted;
  $("mic").textContent = state.muted ? "Unmute" : "Mute";
  send({ type: "mute", muted: state.muted });
};

$("leave").onclick = () => {
  state.left = true;
  send({ type: "leave" });
  teardown();
  $("call").hidden = true;
  setStatus("Left the room.");
};

$("join-form").onsubmit = (e) => {
  e.preventDefault();
  state.room = $("room").value.trim();
  state.name = $("name").value.trim();
  state.token = $("token").value.trim();
  state.publish = !$("listen-only").checked;
  state.left = false;
  connect();
};

(async function start() {
  let dev = false;
  try {
    const info = await (await fetch("/v1/info")).json();
    dev = info.dev;
    state.cluster = !!info.cluster && !state.token;
  } catch (e) {}
  $("token-label").hidden = dev;
  if (state.token || (dev && state.room && state.name)) {
    connect();
  } else {
    $("room").value = state.room;
    $("name").value = state.name;
    $("listen-only").checked = !state.publish;
    $("join-form").hidden = false;
  }
})();
