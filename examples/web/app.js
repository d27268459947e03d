// supportd demo page: a visitor and agent consoles, each its own Socket.IO connection made
// with the stock socket.io-client. Every event and its data are as docs/protocol.md says;
// nothing here is specific to this demo but the layout. Plain browser JavaScript, no build.
'use strict';

const params = new URLSearchParams(location.search);
// The daemon: ?server=, else this page's host on port 8080 (localhost as 127.0.0.1, where
// etc/dev.toml listens, since a browser may try ::1 first).
const HOST = !location.hostname || location.hostname === 'localhost' ? '127.0.0.1' : location.hostname;
const SERVER = params.get('server') || `${location.protocol}//${HOST}:8080`;
const ROLE = params.get('role'); // 'user' | 'agent' | null (both side by side)

const $ = (root, sel) => root.querySelector(sel);
const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
const time = () => new Date().toLocaleTimeString();

// One party (a visitor or an agent) and its connection, rendered into one pane.
class Party {
  constructor(role, id) {
    this.role = role;
    this.root = document.getElementById(`${role}-pane`).content.firstElementChild.cloneNode(true);
    this.root.dataset.pane = id;
    $(this.root, 'input[name=id]').value = id;
    $(this.root, 'input[name=name]').value = role === 'user' ? 'Ada' : `Agent ${id}`;
    this.calls = new Map(); // roomId -> Call
    this.registered = false;
    this.status('not connected');
    $(this.root, 'form.register').addEventListener('submit', (e) => {
      e.preventDefault();
      this.connect();
    });
    $(this.root, 'button.drop').addEventListener('click', () => this.drop());
    $(this.root, 'button.disconnect').addEventListener('click', () => this.disconnect());
    document.getElementById('panes').append(this.root);
  }

  // The id typed in the registration form.
  get id() {
    return $(this.root, 'input[name=id]').value.trim();
  }

  // Opens the Socket.IO connection and registers on every connect that did not recover.
  connect() {
    if (this.socket) return;
    $(this.root, 'form.register').hidden = true;
    $(this.root, '.controls').hidden = false;
    this.status('connecting…');
    const socket = io(SERVER);
    this.socket = socket;
    socket.on('connect', () => {
      if (socket.recovered) {
        this.notice('reconnected: session recovered, missed events replayed');
        this.status(`registered as ${this.role} ${this.id}`);
      } else {
        if (this.registered) this.notice('reconnected as a new session: registering again');
        this.register();
      }
    });
    socket.on('disconnect', (reason) => {
      this.status(`disconnected (${reason})${socket.active ? ', reconnecting…' : ''}`);
    });
    socket.on('connect_error', (err) => {
      this.status(`cannot connect to ${SERVER}: ${err.message} (is this page's origin in cors_origins?)`);
    });
    socket.on('registered', (d) => {
      this.registered = true;
      this.status(`registered as ${d.role} ${d.id}${d.capacity ? `, ${d.capacity} chat${d.capacity === 1 ? '' : 's'} at once` : ''}`);
      if (d.resumed && !socket.recovered) this.notice('reconnected: registration resumed');
      this.onRegistered(d);
    });
    socket.on('getAvailableAgents', (d) => {
      $(this.root, '.available').textContent = `agents available: ${d.availableAgents}`;
    });
    socket.on('error', (d) => this.log(`error ${d.code} (${d.event}): ${d.message}`, 'error'));
    socket.on('callEnded', (d) => this.endCall(d.roomId, d.reason, d.by));
    socket.on('mute', (d) => this.calls.get(d.roomId)?.peerMute(d.kind || 'audio', d.muted));
    socket.on('callState', (d) => this.calls.get(d.roomId)?.restore(d));
    socket.on('signal', (d) => this.calls.get(d.roomId)?.onSignal(d.data));
    socket.on('peerDisconnected', (d) => this.calls.get(d.roomId)?.peerState('connection lost, waiting…'));
    socket.on('peerReconnected', (d) => this.calls.get(d.roomId)?.peerState('back'));
    const incoming = this.role === 'user' ? 'agentMessage' : 'userMessage';
    socket.on(incoming, (d) => this.calls.get(d.roomId)?.chat('them', text(d.messageInput)));
    this.listen(socket);
  }

  // Sends an event with an acknowledgement; a refusal is shown in the log.
  emit(event, data) {
    this.socket.emit(event, data, (res) => {
      if (res && res.ok === false) this.log(`${event} refused: ${res.error.code}: ${res.error.message}`, 'error');
    });
  }

  // Closes the transport under the client, as a network failure would: it reconnects and
  // recovers (the server holds the party for [sessions] resume_grace_ms).
  drop() {
    this.log('network drop simulated');
    this.socket.io.engine.close();
  }

  // Leaves for good: the server ends the registration and any call at once.
  disconnect() {
    for (const roomId of [...this.calls.keys()]) this.endCall(roomId, 'disconnected');
    this.socket.disconnect();
    this.socket = null;
    this.registered = false;
    $(this.root, 'form.register').hidden = false;
    $(this.root, '.controls').hidden = true;
    this.status('not connected');
  }

  // Shows the connection state line.
  status(s) {
    $(this.root, '.status').textContent = s;
  }

  // Shows a notice that stays a few seconds (reconnections, transfers, wrap-up).
  notice(s) {
    const n = $(this.root, '.notice');
    n.textContent = s;
    n.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (n.hidden = true), 8000);
    this.log(s);
  }

  // Appends a line to the pane's event log.
  log(s, cls) {
    const li = document.createElement('li');
    li.textContent = `${time()} ${s}`;
    if (cls) li.className = cls;
    $(this.root, '.log').prepend(li);
  }

  // Opens a call card for a room (or returns the one open) with the peer it talks to.
  openCall(roomId, peerId, settings) {
    let call = this.calls.get(roomId);
    if (!call) {
      call = new Call(this, roomId);
      this.calls.set(roomId, call);
    }
    call.setPeer(peerId, settings);
    return call;
  }

  // Closes a room's card, saying why.
  endCall(roomId, reason, by) {
    const call = this.calls.get(roomId);
    this.log(`call ${roomId} ended: ${reason}${by ? ` by ${by}` : ''}`);
    if (!call) return false;
    this.calls.delete(roomId);
    call.end(`ended: ${reason}${by ? ` by the ${by}` : ''}`);
    return true;
  }
}

// The visitor: asks for a call, waits in the queue, talks to whichever agent has the call.
class User extends Party {
  constructor(id) {
    super('user', id);
    $(this.root, 'form.ask').addEventListener('submit', (e) => {
      e.preventDefault();
      const topic = $(this.root, 'input[name=topic]').value.trim();
      this.emit('callAgent', topic ? { topic } : {});
      $(this.root, 'form.ask').hidden = true;
    });
  }

  // Sends connectUser (again after a failed recovery).
  register() {
    this.emit('connectUser', { id: this.id, name: $(this.root, 'input[name=name]').value });
  }

  // Shows the call button once registered, unless a call is on or waiting.
  onRegistered() {
    const waiting = !$(this.root, '.queue').hidden;
    $(this.root, 'form.ask').hidden = this.calls.size > 0 || waiting;
  }

  // The user's own events: queue, call connected, transfer.
  listen(socket) {
    socket.on('queued', (d) => {
      const q = $(this.root, '.queue');
      q.hidden = false;
      $(this.root, 'form.ask').hidden = true;
      const wait = d.estimatedWaitSecs === undefined ? 'estimating wait…' : `about ${d.estimatedWaitSecs} s`;
      const why = d.reason ? ` (back in line: ${d.reason.replace('_', ' ')})` : '';
      q.textContent = `in queue: position ${d.position} of ${d.queueLength}, ${wait}${why}`;
      q.dataset.room = d.roomId;
      if (d.reason) {
        const call = this.calls.get(d.roomId);
        if (call) {
          this.calls.delete(d.roomId);
          call.end(`agent gone (${d.reason}): waiting for another`);
        }
      }
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'cancel';
      cancel.textContent = 'Leave queue';
      cancel.addEventListener('click', () => this.emit('leaveCall', { roomId: d.roomId }));
      q.append(' ', cancel);
    });
    socket.on('callAgent', (d) => {
      $(this.root, '.queue').hidden = true;
      this.openCall(d.roomId, d.agentName || d.agentId, d);
      this.log(`connected to agent ${d.agentId} in ${d.roomId}`);
    });
    socket.on('callTransfer', (d) => {
      this.notice(`transferred to agent ${d.agentId}`);
      this.openCall(d.roomId, d.agentName || d.agentId, d);
    });
  }

  // A call over: the visitor may ask again.
  endCall(roomId, reason, by) {
    const q = $(this.root, '.queue');
    if (q.dataset.room === String(roomId)) q.hidden = true;
    super.endCall(roomId, reason, by);
    $(this.root, 'form.ask').hidden = !this.registered || this.calls.size > 0;
  }
}

// An agent: takes offers, holds up to `capacity` chats, transfers, wraps up.
class Agent extends Party {
  constructor(id) {
    super('agent', id);
    this.wrapUps = new Map(); // roomId -> element
    $(this.root, 'input.avail').addEventListener('change', (e) => {
      this.emit('toggleAvailability', { available: e.target.checked });
    });
  }

  // Sends connectAgent with the chosen capacity (the server lowers it to max_capacity).
  register() {
    this.emit('connectAgent', {
      id: this.id,
      name: $(this.root, 'input[name=name]').value,
      capacity: Number($(this.root, 'select[name=capacity]').value),
    });
  }

  // Shows the availability switch once registered.
  onRegistered() {
    $(this.root, '.availability').hidden = false;
  }

  // The agent's own events: offers, calls, transfers to it, wrap-up, availability.
  listen(socket) {
    socket.on('callOffered', (d) => this.offer(d));
    socket.on('offerExpired', (d) => {
      this.dropOffer(d.roomId);
      this.log(`offer for ${d.roomId} expired or withdrawn`);
    });
    socket.on('callAgent', (d) => {
      this.dropOffer(d.roomId);
      this.openCall(d.roomId, d.userId, d);
      this.log(`call ${d.roomId} with ${d.userId}${d.topic ? ` about ${d.topic}` : ''}`);
    });
    socket.on('callTransfer', (d) => {
      this.openCall(d.roomId, d.userId, d);
      this.notice(`call ${d.roomId} with ${d.userId} transferred to you by ${d.agentId}`);
    });
    socket.on('wrapUp', (d) => this.wrapUp(d));
    socket.on('availabilityChanged', (d) => {
      $(this.root, 'input.avail').checked = d.available;
      this.notice(`made unavailable: ${d.reason.replace('_', ' ')}`);
    });
  }

  // Shows an offer with accept and reject buttons and its countdown.
  offer(d) {
    const box = document.createElement('div');
    box.className = 'offer';
    box.dataset.room = d.roomId;
    const until = Date.now() + d.expiresInMs;
    const label = document.createElement('span');
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      label.textContent = `call offered: ${d.userId}${d.topic ? ` about ${d.topic}` : ''} (${left} s) `;
    };
    tick();
    box.timer = setInterval(tick, 500);
    const accept = document.createElement('button');
    accept.type = 'button';
    accept.className = 'accept';
    accept.textContent = 'Accept';
    accept.addEventListener('click', () => this.emit('acceptCall', { roomId: d.roomId }));
    const reject = document.createElement('button');
    reject.type = 'button';
    reject.className = 'reject';
    reject.textContent = 'Reject';
    reject.addEventListener('click', () => {
      this.emit('rejectCall', { roomId: d.roomId });
      this.dropOffer(d.roomId);
    });
    box.append(label, accept, ' ', reject);
    $(this.root, '.offers').append(box);
    this.log(`offered ${d.roomId} from ${d.userId}`);
  }

  // Removes the offer box of a room, if shown.
  dropOffer(roomId) {
    for (const box of this.root.querySelectorAll('.offer')) {
      if (box.dataset.room === String(roomId)) {
        clearInterval(box.timer);
        box.remove();
      }
    }
  }

  // Shows a wrap-up countdown for the slot of a call that ended, with "ready now".
  wrapUp(d) {
    const box = document.createElement('div');
    box.className = 'wrapup';
    const until = Date.now() + d.durationMs;
    const label = document.createElement('span');
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      label.textContent = `wrap-up after ${d.roomId}: ${left} s `;
      if (left === 0) done();
    };
    const done = () => {
      clearInterval(box.timer);
      box.remove();
    };
    const ready = document.createElement('button');
    ready.type = 'button';
    ready.className = 'ready';
    ready.textContent = 'Ready now';
    ready.addEventListener('click', () => {
      this.emit('toggleAvailability', { available: true });
      $(this.root, 'input.avail').checked = true;
      for (const b of this.root.querySelectorAll('.wrapup')) {
        clearInterval(b.timer);
        b.remove();
      }
    });
    tick();
    box.timer = setInterval(tick, 500);
    box.append(label, ready);
    $(this.root, '.wrapups').append(box);
    this.log(`wrap-up ${d.durationMs} ms after ${d.roomId}`);
  }

  // A call over: an offer for the room is withdrawn too.
  endCall(roomId, reason, by) {
    this.dropOffer(roomId);
    super.endCall(roomId, reason, by);
  }
}

// One room: its chat, mute state and WebRTC peer connection (perfect negotiation, with the
// iceServers and polite flag the server sent in callAgent / callTransfer).
class Call {
  constructor(party, roomId) {
    this.party = party;
    this.roomId = roomId;
    this.muted = { audio: false, video: false };
    this.stream = null;
    this.pc = null;
    this.el = document.getElementById('call-card').content.firstElementChild.cloneNode(true);
    this.el.dataset.room = roomId;
    const agent = party.role === 'agent';
    $(this.el, '.transfer').hidden = !agent;
    $(this.el, 'form.say').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $(this.el, 'input[name=text]');
      if (!input.value) return;
      party.emit(agent ? 'agentMessage' : 'userMessage', { roomId, messageInput: input.value });
      this.chat('me', input.value);
      input.value = '';
    });
    $(this.el, 'button.leave').addEventListener('click', () => party.emit('leaveCall', { roomId }));
    $(this.el, 'button.video').addEventListener('click', () => this.startMedia());
    $(this.el, 'button.mute-audio').addEventListener('click', () => this.mute('audio'));
    $(this.el, 'button.mute-video').addEventListener('click', () => this.mute('video'));
    $(this.el, 'button.do-transfer').addEventListener('click', () => {
      const to = $(this.el, 'input.to').value.trim();
      party.emit('callTransfer', to ? { roomId, toAgentId: to } : { roomId });
    });
    $(this.el, 'button.to-queue').addEventListener('click', () => party.emit('callTransfer', { roomId, toQueue: true }));
    $(party.root, '.calls').append(this.el);
  }

  // Names the other party and (re)opens the peer connection with the server's settings.
  setPeer(peerId, settings) {
    this.peerId = peerId;
    $(this.el, '.title').textContent = `${this.roomId} with ${peerId}`;
    this.peerState('');
    this.polite = !!settings.polite;
    this.iceServers = settings.iceServers || [];
    if (this.pc) this.pc.close();
    this.newPeerConnection();
  }

  // A fresh RTCPeerConnection wired for perfect negotiation; media already on are re-added.
  newPeerConnection() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.makingOffer = false;
    this.ignoreOffer = false;
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal({ description: pc.localDescription });
      } catch (e) {
        this.party.log(`negotiation failed: ${e.message}`, 'error');
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => this.signal({ candidate });
    pc.ontrack = ({ streams }) => {
      const v = $(this.el, 'video.remote');
      if (streams[0] && v.srcObject !== streams[0]) v.srcObject = streams[0];
    };
    pc.onconnectionstatechange = () => {
      this.el.dataset.media = pc.connectionState;
      if (pc.connectionState === 'connected') this.party.log(`media connected in ${this.roomId}`);
    };
    if (this.stream) for (const t of this.stream.getTracks()) pc.addTrack(t, this.stream);
  }

  // Sends one signalling message to the other party through supportd.
  signal(data) {
    if (this.pc) this.party.emit('signal', { roomId: this.roomId, data: JSON.parse(JSON.stringify(data)) });
  }

  // Handles the other side's description or candidate (the W3C perfect negotiation).
  async onSignal(data) {
    const pc = this.pc;
    if (!pc || !data) return;
    try {
      if (data.description) {
        const d = data.description;
        const collision = d.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        await pc.setRemoteDescription(d);
        if (d.type === 'offer') {
          await pc.setLocalDescription();
          this.signal({ description: pc.localDescription });
        }
      } else if ('candidate' in data) {
        try {
          await pc.addIceCandidate(data.candidate || undefined);
        } catch (e) {
          if (!this.ignoreOffer) throw e;
        }
      }
    } catch (e) {
      this.party.log(`signal failed: ${e.message}`, 'error');
    }
  }

  // Turns on the camera and microphone and sends them to the other party.
  async startMedia() {
    if (this.stream) return;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (e) {
      this.party.log(`camera/microphone: ${e.message}`, 'error');
      return;
    }
    $(this.el, 'video.local').srcObject = this.stream;
    $(this.el, 'button.video').disabled = true;
    for (const t of this.stream.getTracks()) {
      t.enabled = !this.muted[t.kind];
      this.pc.addTrack(t, this.stream);
    }
  }

  // Toggles this side's audio or video and tells the other party (mute {muted, kind}).
  mute(kind) {
    this.setMuted(kind, !this.muted[kind]);
    this.party.emit('mute', { roomId: this.roomId, muted: this.muted[kind], kind });
  }

  // Sets this side's own mute state for a kind: its tracks and its button.
  setMuted(kind, muted) {
    this.muted[kind] = muted;
    if (this.stream) for (const t of this.stream.getTracks()) if (t.kind === kind) t.enabled = !muted;
    const b = $(this.el, kind === 'audio' ? 'button.mute-audio' : 'button.mute-video');
    b.textContent = kind === 'audio' ? (muted ? 'Unmute mic' : 'Mute mic') : muted ? 'Camera on' : 'Camera off';
    b.classList.toggle('on', muted);
  }

  // Shows that the other party muted or unmuted audio or video.
  peerMute(kind, muted) {
    this.peerMuted = { ...(this.peerMuted || {}), [kind]: muted };
    const m = Object.entries(this.peerMuted).filter(([, v]) => v).map(([k]) => k);
    $(this.el, '.peer-state').textContent = m.length ? `${this.peerId} muted: ${m.join(', ')}` : '';
  }

  // Applies a callState after a resume or transfer: own and the other party's mute state.
  restore(d) {
    for (const kind of ['audio', 'video']) {
      if (d.muted) this.setMuted(kind, !!d.muted[kind]);
      if (d.peerMuted) this.peerMute(kind, d.peerMuted[kind]);
    }
  }

  // Shows the other party's connection state in the card's header.
  peerState(s) {
    $(this.el, '.peer-state').textContent = s ? `${this.peerId}: ${s}` : '';
  }

  // Appends a chat line ('me' or 'them').
  chat(who, s) {
    const li = document.createElement('li');
    li.className = who;
    li.textContent = `${who === 'me' ? 'me' : this.peerId}: ${s}`;
    $(this.el, '.chat').append(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  // Ends the card: media stopped, buttons gone, removed after a few seconds.
  end(why) {
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.el.classList.add('ended');
    $(this.el, '.peer-state').textContent = why;
    for (const b of this.el.querySelectorAll('button, input')) b.disabled = true;
    setTimeout(() => this.el.remove(), 6000);
  }
}

document.getElementById('server').textContent = `server: ${SERVER}`;
let agents = 0;
// Adds an agent console (a1, a2, …, or ?id= for the first one in ?role=agent).
function addAgent() {
  agents += 1;
  return new Agent(ROLE === 'agent' && agents === 1 && params.get('id') ? params.get('id') : `a${agents}`);
}
if (ROLE !== 'agent') new User(ROLE === 'user' && params.get('id') ? params.get('id') : 'u1');
if (ROLE !== 'user') addAgent();
const addButton = document.getElementById('add-agent');
if (ROLE === 'user') addButton.hidden = true;
addButton.addEventListener('click', addAgent);
