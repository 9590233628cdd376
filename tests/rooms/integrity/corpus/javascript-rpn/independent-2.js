"use strict";

class Machine {
  constructor() {
    this.items = [];
  }

  push(x) {
    this.items.push(x);
  }

  take() {
    if (this.items.length === 0) {
      throw new Error("not enough operands");
    }
    return this.items.pop();
  }

  run(word) {
    if (word === "dup") {
      const top = this.take();
      this.push(top);
      this.push(top);
      return;
    }
    const binary = { "+": 1, "-": 1, "*": 1, "/": 1 };
    if (binary[word]) {
      const b = this.take();
      const a = this.take();
      if (word === "/" && b === 0) throw new Error("division by zero");
      this.push(word === "+" ? a + b : word === "-" ? a - b : word === "*" ? a * b : a / b);
      return;
    }
    const n = parseFloat(word);
    if (isNaN(n)) throw new Error("bad token " + word);
    this.push(n);
  }

  result() {
    if (this.items.length !== 1) throw new Error("expected one result, got " + this.items.length);
    return this.items[0];
  }
}

let count = 0;
let buffer = "";
process.stdin.on("data", (chunk) => (buffer += chunk));
process.stdin.on("end", () => {
  for (const text of buffer.split(/\r?\n/)) {
    count++;
    if (text.trim() === "") continue;
    const m = new Machine();
    try {
      text.trim().split(/\s+/).forEach((w) => m.run(w));
      const v = m.result();
      console.log(v % 1 === 0 ? `${v}` : v.toFixed(4));
    } catch (err) {
      console.log(`line ${count}: ${err.message}`);
    }
  }
});
