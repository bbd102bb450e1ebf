// node mint.mjs PORT DATADIR COUNT: prints COUNT fresh session tokens of bench@example.com, one a
// line. The user signs up once (one password hash); then each session is made by better-auth's own
// internalAdapter.createSession, as sign-in would, all in one SQLite transaction.
import { makeAuth, EMAIL, PASSWORD } from "./auth.mjs";

const [port, datadir, countArg] = process.argv.slice(2);
const count = Number(countArg);
const { auth, db } = await makeAuth({ port, datadir });
const ctx = await auth.$context;
let found = await ctx.internalAdapter.findUserByEmail(EMAIL);
if (!found) {
  await auth.api.signUpEmail({ body: { email: EMAIL, password: PASSWORD, name: "bench" } });
  found = await ctx.internalAdapter.findUserByEmail(EMAIL);
}
const userId = found.user.id;
// Kysely's SQLite dialect runs everything on this one connection, so BEGIN/COMMIT around the
// adapter calls make them one transaction.
const out = [];
db.exec("BEGIN IMMEDIATE");
for (let i = 0; i < count; i++) out.push((await ctx.internalAdapter.createSession(userId)).token);
db.exec("COMMIT");
db.close();
process.stdout.write(out.length ? out.join("\n") + "\n" : "");
