/**
 * The IAM policy statements the function suggests when OCI refuses a call, in one table: what each
 * call needs, scoped and narrowed as Terraform's own policies (terraform/iam.tf) are, for the
 * function's dynamic group. Terraform passes that group's name in (FUNCTION_DYNAMIC_GROUP); without
 * it the statement names a placeholder to replace.
 */

/** What a statement says for the dynamic group when its name is not configured. */
const UNNAMED_DYNAMIC_GROUP = "<the function's dynamic group>";

/** The verb and resource type of each need (one row per OCI call or group of calls). */
export const IAM_GRANTS = {
  /** PostMetricData. */
  postMetrics: 'use metrics',
  /** GetSecretBundle of the bearer-token secret. */
  readSecret: 'read secret-bundles',
  /** GetObject, HeadObject, PutObject over an existing state object. */
  stateObjects: 'use objects',
  /** The first PutObject of the state object (narrowed to OBJECT_CREATE). */
  createStateObject: 'manage objects',
  /** GetObject of the configuration object (SCRAPE_CONFIG_OBJECT). */
  readConfigObject: 'read objects',
  /** Discovery's calls. */
  ListCompartments: 'inspect compartments',
  ListInstances: 'read instances',
  ListVnicAttachments: 'read vnic-attachments',
  GetVnic: 'read vnics',
} as const;

type IamNeed = keyof typeof IAM_GRANTS;

/** The calls discovery makes (each a row of IAM_GRANTS). */
export const DISCOVERY_OPERATIONS = ['ListCompartments', 'ListInstances', 'ListVnicAttachments', 'GetVnic'] as const satisfies readonly IamNeed[];
export type DiscoveryOperation = (typeof DISCOVERY_OPERATIONS)[number];

/** One statement: `Allow dynamic-group <group> to <grant> in <scope>[ where <condition>]`. */
function statement(dynamicGroup: string | undefined, need: IamNeed, scope: string, condition?: string): string {
  return `Allow dynamic-group ${dynamicGroup ?? UNNAMED_DYNAMIC_GROUP} to ${IAM_GRANTS[need]} in ${scope}${condition ? ` where ${condition}` : ''}`;
}

/** Posting into a namespace of a compartment. */
export function metricsStatement(dynamicGroup: string | undefined, compartmentId: string | undefined, namespace: string | undefined): string {
  const scope = compartmentId ? `compartment id ${compartmentId}` : 'compartment id <COMPARTMENT_OCID>';
  return statement(dynamicGroup, 'postMetrics', scope, `target.metrics.namespace = '${namespace ?? '<METRICS_NAMESPACE>'}'`);
}

/** Reading the one bearer-token secret. */
export function secretStatement(dynamicGroup: string | undefined, secretId: string): string {
  return statement(dynamicGroup, 'readSecret', "compartment <the secret's compartment>", `target.secret.id = '${secretId}'`);
}

/** The two statements the state object needs on its bucket: use it, and create it (OBJECT_CREATE only). */
export function stateStatements(dynamicGroup: string | undefined, bucket: string): string {
  const scope = "compartment <the bucket's compartment>";
  return (
    `${statement(dynamicGroup, 'stateObjects', scope, `target.bucket.name = '${bucket}'`)}; ` +
    statement(dynamicGroup, 'createStateObject', scope, `all {target.bucket.name = '${bucket}', request.permission = 'OBJECT_CREATE'}`)
  );
}

/** Reading the configuration object (SCRAPE_CONFIG_OBJECT) in its bucket (a state bucket's `use objects` covers it already). */
export function configObjectStatement(dynamicGroup: string | undefined, bucket: string): string {
  return statement(dynamicGroup, 'readConfigObject', "compartment <the bucket's compartment>", `target.bucket.name = '${bucket}'`);
}

/** A discovery call in the compartment it was made in. */
export function discoveryStatement(dynamicGroup: string | undefined, operation: DiscoveryOperation, compartmentId: string): string {
  return statement(dynamicGroup, operation, `compartment id ${compartmentId}`);
}
