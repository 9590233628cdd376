const input = require("fs").readFileSync("/dev/stdin", "utf8");

const evalRpn = (expr) => {
  const out = expr
    .trim()
    .split(/\s+/)
    .reduce((acc, tok) => {
      if (tok === "dup") {
        if (acc.length === 0) throw new Error("nothing to duplicate");
        return [...acc, acc[acc.length - 1]];
      }
      if ("+-*/".includes(tok) && tok.length === 1) {
        if (acc.length < 2) throw new Error("not enough operands for " + tok);
        const [x, y] = acc.slice(-2);
        const rest = acc.slice(0, -2);
        if (tok === "/" && y === 0) throw new Error("division by zero");
        const r = { "+": x + y, "-": x - y, "*": x * y, "/": x / y }[tok];
        return [...rest, r];
      }
      const n = Number(tok);
      if (Number.isNaN(n)) throw new Error("bad token " + tok);
      return [...acc, n];
    }, []);
  if (out.length !== 1) throw new Error("expected one result, got " + out.length);
  return out[0];
};

input.split("\n").forEach((line, i) => {
  if (!line.trim()) return;
  try {
    const v = evalRpn(line);
    console.log(Number.isInteger(v) ? String(v) : v.toFixed(4));
  } catch (e) {
    console.log("line " + (i + 1) + ": " + e.message);
  }
});
