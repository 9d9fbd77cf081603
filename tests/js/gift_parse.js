// Reads GIFT on standard input and prints what gift-pegjs (an independent parser) makes of it,
// as JSON on standard output. A syntax error prints its location and exits 1.
"use strict";
const { parse } = require("gift-pegjs");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  try {
    process.stdout.write(JSON.stringify(parse(input)));
  } catch (error) {
    const where = error.location ? `line ${error.location.start.line}: ` : "";
    process.stderr.write(`gift-pegjs: ${where}${error.message}\n`);
    process.exit(1);
  }
});
