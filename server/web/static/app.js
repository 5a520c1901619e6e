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
};
window.voicectl = state; // inspected by the end-to-end tests

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
    ul.appendChild(li);
  }
}

function send(msg) {
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

async function onOffer(sdp) {
  const pc = state.pc;
  await pc.setRemoteDescription({ type: "offer", sdp });
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
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  send({ type: "answer", sdp: answer.sdp });
}

function newPeerConnection() {
  const pc = new RTCPeerConnection();
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
    state.connected = pc.connectionState === "connected";
    if (state.connected) setStatus("Connected.");
  };
  return pc;
}

function teardown() {
  if (state.pc) state.pc.close();
  state.pc = null;
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
  }
  state.ws = null;
  state.peers.clear();
  $("audio").textContent = "";
  renderPeers();
}

function scheduleReconnect(delay) {
  teardown();
  if (state.left) return;
  state.retry++;
  const wait = Math.min(delay + 250 * state.retry, 5000);
  if (state.cluster) state.token = ""; // ask the API again: the room may have moved
  setStatus(`reconnecting… (in ${Math.round(wait / 100) / 10}s)`);
  setTimeout(connect, wait);
}

function onMessage(msg) {
  switch (msg.type) {
    case "joined":
      state.retry = 0;
      state.peerId = msg.peer_id;
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
    case "offer":
      onOffer(msg.sdp).catch((e) => setStatus("Negotiation failed: " + e, true));
      break;
    case "candidate":
      state.pc.addIceCandidate(msg.candidate).catch(() => {});
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
    case "reconnect":
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
      if (!msg.fatal && msg.code === "bad_candidate") {
        // A candidate the server does not use (TCP, mDNS): nothing for the user.
        console.debug("candidate not used:", msg.message);
        break;
      }
      setStatus(errorText[msg.code] || `Error ${msg.code}: ${msg.message}`, true);
      state.lastErrorCode = msg.code;
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
  state.pc = newPeerConnection();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const base = state.cluster && state.signal ? state.signal.replace(/^http/, "ws") : `${proto}//${location.host}`;
  const ws = new WebSocket(`${base}/v1/rtc?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  ws.onopen = () => send({ type: "join", publish: state.publish });
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = (e) => {
    if (state.ws !== ws || state.left) return;
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
    scheduleReconnect(500);
  };
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
