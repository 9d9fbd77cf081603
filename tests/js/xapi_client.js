// Drives our statements API with @xapi/xapi, an xAPI client from npm, the way an LRS reader
// would. Reads a plan as JSON on standard input:
//   {endpoint, key, secret, queries: [{name, params}], statementId, badSecret}
// and prints JSON: the About resource, and for each query every page it fetched (following
// `more` links to the end) with the version header of each response.
"use strict";
const XAPI = require("@xapi/xapi");

async function pages(client, params) {
  const out = [];
  let response = await client.getStatements(params);
  for (let guard = 0; guard < 1000; guard++) {
    out.push({
      version: response.headers["x-experience-api-version"],
      statements: response.data.statements,
      more: response.data.more,
    });
    if (!response.data.more) return out;
    response = await client.getMoreStatements({ more: response.data.more });
  }
  throw new Error("more links never ended");
}

async function status(promise) {
  try {
    const response = await promise;
    return response.status;
  } catch (error) {
    return error.response ? error.response.status : String(error);
  }
}

async function main(plan) {
  const client = new XAPI({ endpoint: plan.endpoint, auth: XAPI.toBasicAuth(plan.key, plan.secret) });
  const about = await client.getAbout();
  const results = {};
  for (const query of plan.queries) {
    results[query.name] = await pages(client, query.params);
  }
  const single = plan.statementId ? (await client.getStatement({ statementId: plan.statementId })).data : null;
  const refused = {};
  if (plan.badSecret) {
    const wrong = new XAPI({ endpoint: plan.endpoint, auth: XAPI.toBasicAuth(plan.key, plan.badSecret) });
    refused.badSecret = await status(wrong.getStatements({ limit: 1 }));
  }
  refused.write = await status(
    client.sendStatement({
      statement: {
        actor: { objectType: "Agent", mbox: "mailto:reader@example.org" },
        verb: XAPI.Verbs.COMPLETED,
        object: { objectType: "Activity", id: "http://example.org/activity" },
      },
    })
  );
  return { about: about.data, aboutVersion: about.headers["x-experience-api-version"], results, single, refused };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  main(JSON.parse(input)).then(
    (out) => process.stdout.write(JSON.stringify(out)),
    (error) => {
      const detail = error.response ? ` (HTTP ${error.response.status}: ${JSON.stringify(error.response.data)})` : "";
      process.stderr.write(`xapi client: ${error.stack || error}${detail}\n`);
      process.exit(1);
    }
  );
});
