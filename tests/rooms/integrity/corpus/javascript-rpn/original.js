// Reverse Polish calculator: one expression per line on stdin.
const readline = require("readline");

const OPERATORS = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => {
    if (b === 0) {
      throw new Error("division by zero");
    }
    return a / b;
  },
};

function tokenize(line) {
  return line.trim().split(/\s+/).filter((t) => t.length > 0);
}

function evaluate(tokens) {
  const stack = [];
  for (const token of tokens) {
    if (token in OPERATORS) {
      if (stack.length < 2) {
        throw new Error("not enough operands for " + token);
      }
      const right = stack.pop();
      const left = stack.pop();
      stack.push(OPERATORS[token](left, right));
    } else if (token === "dup") {
      if (stack.length < 1) {
        throw new Error("nothing to duplicate");
      }
      stack.push(stack[stack.length - 1]);
    } else {
      const value = Number(token);
      if (Number.isNaN(value)) {
        throw new Error("bad token " + token);
      }
      stack.push(value);
    }
  }
  if (stack.length !== 1) {
    throw new Error("expected one result, got " + stack.length);
  }
  return stack[0];
}

function format(value) {
  if (Number.isInteger(value)) {
    return String(value);
  }
  return value.toFixed(4);
}

function main() {
  const rl = readline.createInterface({ input: process.stdin });
  let lineNumber = 0;
  rl.on("line", (line) => {
    lineNumber += 1;
    const tokens = tokenize(line);
    if (tokens.length === 0) {
      return;
    }
    try {
      console.log(format(evaluate(tokens)));
    } catch (err) {
      console.log("line " + lineNumber + ": " + err.message);
    }
  });
}

main();
