// hotpose viewer: the 3D skeletons of a result beside the 2D keypoints over the video's frames.
// Plain canvas 2D, no library. The data (hotpose.video.viewer) is the JSON in #hotpose-data:
//   fps, num_frames, image_size [w, h], parents [17], left / right (joint indices),
//   people [{name, pose: flat (T*17*3) millimetres, y up, floor at 0, or null; kp: flat (T*17*2) tenths of a
//            pixel or null; valid: "1"/"0" per frame; offset: (T) millimetres along x (2D position)}],
//   images [JPEG data URLs], image_frames [the frame each image shows] (ascending).
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("hotpose-data").textContent);
  const T = data.num_frames, J = data.parents.length;
  const LEFT = new Set(data.left), RIGHT = new Set(data.right);
  const COLORS = { left: "#3ca0ff", right: "#ff5a3c", mid: "#f0f0f0", invalid: "#787878", grid: "#46465a" };
  const PERSON_TINT = ["", "#ffd24a", "#6ee06e", "#d07cff", "#4ae0e0"];  // joint colour of the 2nd, 3rd... person

  const $ = (id) => document.getElementById(id);
  const c3 = $("view3d"), c2 = $("view2d"), g3 = c3.getContext("2d"), g2 = c2.getContext("2d");
  const slider = $("slider"), playBtn = $("play"), speedSel = $("speed"), placeBox = $("place");

  // ------------------------------------------------------------------------------------------ state
  const state = { frame: 0, playing: false, speed: 1, yaw: -0.6, pitch: 0.3, dist: 0, target: [0, 0.9, 0],
                  place: true, dirty: true };
  let last = null;

  function joint3d(p, t, j, placed) {
    const a = p.pose, k = (t * J + j) * 3;
    if (a[k] === null) return null;
    const dx = placed && p.offset[t] !== null ? p.offset[t] : 0;
    return [(a[k] + dx) / 1000, a[k + 1] / 1000, a[k + 2] / 1000];
  }
  function joint2d(p, t, j) {
    const k = (t * J + j) * 2;
    if (p.kp === null || p.kp[k] === null) return null;
    return [p.kp[k] / 10, p.kp[k + 1] / 10];
  }
  function boneColor(j, valid, person) {
    if (!valid) return COLORS.invalid;
    if (LEFT.has(j)) return COLORS.left;
    if (RIGHT.has(j)) return COLORS.right;
    return person > 0 ? PERSON_TINT[person % PERSON_TINT.length] || COLORS.mid : COLORS.mid;
  }

  // Bounds of the whole motion: the orbit's centre and the starting distance, and the floor grid's size.
  function bounds(placed) {
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (const p of data.people)
      for (let t = 0; t < T; t += Math.max(1, Math.floor(T / 400)))
        for (let j = 0; j < J; j++) {
          const q = joint3d(p, t, j, placed);
          if (!q) continue;
          for (let d = 0; d < 3; d++) { lo[d] = Math.min(lo[d], q[d]); hi[d] = Math.max(hi[d], q[d]); }
        }
    if (!isFinite(lo[0])) return { lo: [-1, 0, -1], hi: [1, 1.8, 1] };
    return { lo, hi };
  }
  function resetView() {
    const b = bounds(state.place);
    state.target = [(b.lo[0] + b.hi[0]) / 2, (b.lo[1] + b.hi[1]) / 2, (b.lo[2] + b.hi[2]) / 2];
    const size = Math.max(b.hi[0] - b.lo[0], b.hi[1] - b.lo[1], b.hi[2] - b.lo[2], 1.0);
    state.dist = 1.5 * size + 1.2;
    state.yaw = -0.6; state.pitch = 0.3;
    const lo = (v) => Math.floor(v * 2 - 1) / 2, hi = (v) => Math.ceil(v * 2 + 1) / 2;  // half-metre lines
    state.grid = [lo(Math.min(b.lo[0], -0.5)), hi(Math.max(b.hi[0], 0.5)), lo(Math.min(b.lo[2], -0.5)), hi(Math.max(b.hi[2], 0.5))];
    state.dirty = true;
  }

  // ------------------------------------------------------------------------------------ projection
  function camera(w, h) {
    const cy = Math.cos(state.yaw), sy = Math.sin(state.yaw), cp = Math.cos(state.pitch), sp = Math.sin(state.pitch);
    const f = 0.9 * Math.min(w, h) / 0.8;  // focal length in pixels (about 50 degrees across the short side)
    return function (q) {
      const x = q[0] - state.target[0], y = q[1] - state.target[1], z = q[2] - state.target[2];
      const x1 = cy * x + sy * z, z1 = -sy * x + cy * z;   // turn about the vertical
      const y2 = cp * y - sp * z1, z2 = sp * y + cp * z1;   // tilt
      const depth = state.dist - z2;
      if (depth < 0.05) return null;
      return [w / 2 + f * x1 / depth, h / 2 - f * y2 / depth, depth];
    };
  }

  function fitCanvas(c) {
    const r = c.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    return [w, h, dpr];
  }

  function draw3d(t) {
    const [w, h, dpr] = fitCanvas(c3);
    g3.fillStyle = "#101016"; g3.fillRect(0, 0, w, h);
    const proj = camera(w, h);
    g3.lineWidth = 1 * dpr; g3.strokeStyle = COLORS.grid;
    const [x0, x1, z0, z1] = state.grid;
    for (let x = x0; x <= x1 + 1e-6; x += 0.5) segment(g3, proj, [x, 0, z0], [x, 0, z1]);
    for (let z = z0; z <= z1 + 1e-6; z += 0.5) segment(g3, proj, [x0, 0, z], [x1, 0, z]);
    const items = [];  // bones and joints of every person, drawn far to near
    data.people.forEach((p, n) => {
      const valid = p.valid[t] === "1";
      for (let j = 0; j < J; j++) {
        const a = joint3d(p, t, j, state.place);
        if (!a) continue;
        const pa = proj(a);
        if (!pa) continue;
        items.push({ kind: "joint", at: pa, depth: pa[2], color: boneColor(j, valid, n) });
        const par = data.parents[j];
        if (par < 0) continue;
        const b = joint3d(p, t, par, state.place);
        const pb = b && proj(b);
        if (!pb) continue;
        items.push({ kind: "bone", from: pb, to: pa, depth: (pa[2] + pb[2]) / 2, color: boneColor(j, valid, n) });
      }
    });
    items.sort((u, v) => v.depth - u.depth);
    const base = Math.min(w, h) / 110;
    g3.lineCap = "round";
    for (const it of items) {
      const s = Math.max(0.4, Math.min(3, state.dist / it.depth));
      g3.strokeStyle = g3.fillStyle = it.color;
      if (it.kind === "bone") {
        g3.lineWidth = base * s;
        g3.beginPath(); g3.moveTo(it.from[0], it.from[1]); g3.lineTo(it.to[0], it.to[1]); g3.stroke();
      } else {
        g3.beginPath(); g3.arc(it.at[0], it.at[1], base * 0.8 * s, 0, 2 * Math.PI); g3.fill();
      }
    }
  }
  function segment(g, proj, p, q) {
    const a = proj(p), b = proj(q);
    if (!a || !b) return;
    g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke();
  }

  // ---------------------------------------------------------------------------------------- 2D panel
  const images = data.images.map((src) => ({ src, img: null }));
  function imageFor(t) {  // the last image at or before frame t
    const fr = data.image_frames;
    let lo = 0, hi = fr.length - 1, k = -1;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (fr[m] <= t) { k = m; lo = m + 1; } else hi = m - 1; }
    if (k < 0) return null;
    const e = images[k];
    if (!e.img) { e.img = new Image(); e.img.onload = () => { state.dirty = true; }; e.img.src = e.src; }
    return e.img.complete && e.img.naturalWidth ? e.img : null;
  }
  // Without images: the box around every keypoint of the whole video.
  const box2d = (function () {
    if (data.images.length) return [0, 0, data.image_size[0], data.image_size[1]];
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const p of data.people) {
      if (!p.kp) continue;
      for (let k = 0; k < p.kp.length; k += 2) {
        if (p.kp[k] === null) continue;
        x0 = Math.min(x0, p.kp[k] / 10); x1 = Math.max(x1, p.kp[k] / 10);
        y0 = Math.min(y0, p.kp[k + 1] / 10); y1 = Math.max(y1, p.kp[k + 1] / 10);
      }
    }
    if (!isFinite(x0)) return [0, 0, data.image_size[0], data.image_size[1]];
    const side = Math.max(x1 - x0, y1 - y0) * 1.15 + 16, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    return [cx - side / 2, cy - side / 2, side, side];
  })();
  const has2d = data.people.some((p) => p.kp !== null);
  if (!has2d) $("panel2d").classList.add("hidden");

  function draw2d(t) {
    if (!has2d) return;
    const [w, h, dpr] = fitCanvas(c2);
    g2.fillStyle = "#101016"; g2.fillRect(0, 0, w, h);
    const [bx, by, bw, bh] = box2d;
    const s = Math.min(w / bw, h / bh), ox = (w - bw * s) / 2, oy = (h - bh * s) / 2;
    const img = data.images.length ? imageFor(t) : null;
    if (img) g2.drawImage(img, ox, oy, bw * s, bh * s);
    const at = (q) => [ox + (q[0] - bx) * s, oy + (q[1] - by) * s];
    g2.lineCap = "round";
    data.people.forEach((p, n) => {
      const valid = p.valid[t] === "1";
      for (let j = 0; j < J; j++) {
        const a = joint2d(p, t, j);
        if (!a) continue;
        const pa = at(a);
        g2.strokeStyle = g2.fillStyle = boneColor(j, valid, n);
        const par = data.parents[j];
        const b = par >= 0 ? joint2d(p, t, par) : null;
        if (b) {
          const pb = at(b);
          g2.lineWidth = 2.5 * dpr;
          g2.beginPath(); g2.moveTo(pb[0], pb[1]); g2.lineTo(pa[0], pa[1]); g2.stroke();
        }
        g2.beginPath(); g2.arc(pa[0], pa[1], 2.5 * dpr, 0, 2 * Math.PI); g2.fill();
      }
    });
    if (data.people.every((p) => p.valid[t] !== "1")) {
      g2.strokeStyle = "#dc2828"; g2.lineWidth = 4 * dpr; g2.strokeRect(2, 2, w - 4, h - 4);
    }
  }

  // ---------------------------------------------------------------------------------------- controls
  function setFrame(t, fromSlider) {
    const f = Math.max(0, Math.min(T - 1, t));
    if (Math.floor(f) !== Math.floor(state.frame)) state.dirty = true;
    state.frame = f;
    if (!fromSlider) slider.value = String(Math.floor(f));
  }
  function setPlaying(on) {
    state.playing = on && T > 1;
    playBtn.innerHTML = state.playing ? "&#10074;&#10074;" : "&#9654;";
    last = null;
  }
  slider.max = String(Math.max(0, T - 1));
  slider.addEventListener("input", () => { setFrame(Number(slider.value), true); });
  playBtn.addEventListener("click", () => setPlaying(!state.playing));
  speedSel.addEventListener("change", () => { state.speed = Number(speedSel.value); });
  placeBox.addEventListener("change", () => { state.place = placeBox.checked; resetView(); });
  document.addEventListener("keydown", (e) => {
    if (e.target === speedSel) return;
    if (e.code === "Space") { e.preventDefault(); setPlaying(!state.playing); }
    else if (e.code === "ArrowRight" && e.target !== slider) setFrame(Math.floor(state.frame) + 1);
    else if (e.code === "ArrowLeft" && e.target !== slider) setFrame(Math.floor(state.frame) - 1);
  });
  let drag = null;
  c3.addEventListener("pointerdown", (e) => {
    drag = [e.clientX, e.clientY, state.yaw, state.pitch]; c3.setPointerCapture(e.pointerId); c3.classList.add("dragging");
  });
  c3.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.yaw = drag[2] + (e.clientX - drag[0]) * 0.01;
    state.pitch = Math.max(-1.45, Math.min(1.45, drag[3] + (e.clientY - drag[1]) * 0.01));
    state.dirty = true;
  });
  const endDrag = () => { drag = null; c3.classList.remove("dragging"); };
  c3.addEventListener("pointerup", endDrag);
  c3.addEventListener("pointercancel", endDrag);
  c3.addEventListener("wheel", (e) => {
    e.preventDefault();
    state.dist = Math.max(0.5, Math.min(100, state.dist * Math.exp(e.deltaY * 0.001)));
    state.dirty = true;
  }, { passive: false });
  c3.addEventListener("dblclick", resetView);
  window.addEventListener("resize", () => { state.dirty = true; });

  function tick(now) {
    if (state.playing) {
      if (last !== null) {
        let f = state.frame + (now - last) / 1000 * data.fps * state.speed;
        if (f >= T) f = f % T;
        setFrame(f);
      }
      last = now;
    }
    if (state.dirty) {
      state.dirty = false;
      const t = Math.floor(state.frame);
      draw3d(t); draw2d(t);
      const secs = (t / data.fps).toFixed(2);
      $("frame").textContent = `frame ${t + 1} / ${T}  (${secs} s)`;
    }
    requestAnimationFrame(tick);
  }

  // ------------------------------------------------------------------------------------------- start
  $("title").textContent = data.title;
  $("info").textContent = `${T} frames at ${Number(data.fps.toFixed(2))} fps, ${data.people.length} ` +
    `${data.people.length === 1 ? "person" : "people"}` + (data.images.length ? `, ${data.images.length} video frames` : "");
  $("legend").innerHTML = `<span class="swatch" style="background:${COLORS.left}"></span>left` +
    `<span class="swatch" style="background:${COLORS.right}"></span>right` +
    data.people.map((p, n) => n ? `<span class="swatch" style="background:${PERSON_TINT[n % PERSON_TINT.length] || COLORS.mid}"></span>${p.name}` : "").join("");
  resetView();
  requestAnimationFrame(tick);
  // For scripts and tests: the frame shown, and a way to show another.
  window.hotposeViewer = {
    numFrames: T,
    get frame() { return Math.floor(state.frame); },
    setFrame: (t) => { setFrame(t); },
    play: (on) => setPlaying(on !== false),
    redraw: () => { const t = Math.floor(state.frame); draw3d(t); draw2d(t); },
  };
})();
