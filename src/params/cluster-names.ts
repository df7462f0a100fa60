/**
 * The clusters an environment deploys to, by name. An environment that lists none is one target,
 * named as the environment: the name its agent runs with (`--cluster`), its status reports carry
 * and `promote status`, `plan`'s diff and the demo show.
 */
export function clusterNames(env: { name: string; clusters: readonly { name: string }[] }): string[] {
  return env.clusters.length ? env.clusters.map((c) => c.name) : [env.name];
}
