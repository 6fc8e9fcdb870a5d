// Validates the custom resources of deploy/k8s (KEDA, Gateway API, CloudNativePG) against their published
// schemas, offline, with the kubernetes-models packages. Usage: node validate-crds.mjs FILE...
// Prints `ok <file> <kind>/<name>` per resource; exits 1 at the first invalid or unknown one.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { Cluster, Pooler } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1";

const models = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "gateway.networking.k8s.io/v1/HTTPRoute": HTTPRoute,
  "postgresql.cnpg.io/v1/Cluster": Cluster,
  "postgresql.cnpg.io/v1/Pooler": Pooler,
};

let failed = false;
for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (document.errors.length > 0) {
      console.error(`${file}: not YAML: ${document.errors[0].message}`);
      failed = true;
      continue;
    }
    const resource = document.toJS();
    if (resource === null) continue;
    const key = `${resource.apiVersion}/${resource.kind}`;
    const Model = models[key];
    if (!Model) {
      console.error(`${file}: no schema for ${key}`);
      failed = true;
      continue;
    }
    try {
      new Model(resource).validate();
      console.log(`ok ${file} ${resource.kind}/${resource.metadata?.name}`);
    } catch (error) {
      console.error(`${file}: ${resource.kind}/${resource.metadata?.name} is invalid: ${error.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
