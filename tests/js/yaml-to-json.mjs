// Prints the YAML documents of a file as one JSON array (for assertions in Rust tests).
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const documents = parseAllDocuments(readFileSync(process.argv[2], "utf8"), { merge: true });
const broken = documents.find((document) => document.errors.length > 0);
if (broken) {
  console.error(`${process.argv[2]}: ${broken.errors[0].message}`);
  process.exit(1);
}
console.log(JSON.stringify(documents.map((document) => document.toJS({ maxAliasCount: -1 })).filter((value) => value !== null)));
