/* RPN evaluator (assignment 3) */
const rl_mod = require("readline");

const OPS = {
  "+": (x, y) => x + y,
  "-": (x, y) => x - y,
  "*": (x, y) => x * y,
  "/": (x, y) => { if (y === 0) { throw new Error("cannot divide by zero"); } return x / y; },
};

function splitLine(text) { return text.trim().split(/\s+/).filter((p) => p.length > 0); }

function calc(parts) {
  const st = [];
  for (const p of parts) {
    if (p in OPS) {
      if (st.length < 2) { throw new Error("stack underflow at " + p); }
      const b = st.pop();
      const a = st.pop();
      st.push(OPS[p](a, b));
    } else if (p === "dup") {
      if (st.length < 1) { throw new Error("empty stack"); }
      st.push(st[st.length - 1]);
    } else {
      const num = Number(p);
      if (Number.isNaN(num)) { throw new Error("unknown " + p); }
      st.push(num);
    }
  }
  if (st.length !== 1) { throw new Error("stack has " + st.length + " items"); }
  return st[0];
}

function show(v) {
  if (Number.isInteger(v)) { return String(v); }
  return v.toFixed(4);
}

function start() {
  const reader = rl_mod.createInterface({ input: process.stdin });
  let n = 0;
  reader.on("line", (text) => {
    n += 1;
    const parts = splitLine(text);
    if (parts.length === 0) { return; }
    try { console.log(show(calc(parts))); } catch (e) { console.log("line " + n + ": " + e.message); }
  });
}

start();
