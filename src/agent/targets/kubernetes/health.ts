import type { ObjectHealth } from '../../target.ts';
import type { KubeObject } from './objects.ts';

// Health by kind, after kstatus (sigs.k8s.io/cli-utils/pkg/kstatus) in spirit: a controller
// has not acted on a change until status.observedGeneration reaches metadata.generation; the
// workload kinds are healthy when their rollout is complete; anything else with a `Ready`
// condition follows it; objects without status are healthy once they exist. A kind whose health
// is written by a controller is Progressing while that status is missing: right after a create
// the controller has not run yet (an APIService without `Available`, a Pod without `Ready`), and
// absence is not health. Progressing turns Degraded when the health timeout runs out (wait.ts).

export interface HealthVerdict {
  health: ObjectHealth;
  message?: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' ? v : fallback;
}

function conditions(status: Record<string, unknown>): Condition[] {
  return Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [];
}

function condition(status: Record<string, unknown>, type: string): Condition | undefined {
  return conditions(status).find((c) => c.type === type);
}

function describe(c: Condition): string {
  return [c.reason, c.message].filter(Boolean).join(': ');
}

export function assessHealth(obj: KubeObject): HealthVerdict {
  const status = (obj.status && typeof obj.status === 'object' ? obj.status : {}) as Record<string, unknown>;
  const spec = (obj.spec && typeof obj.spec === 'object' ? obj.spec : {}) as Record<string, unknown>;
  const generation = num(obj.metadata.generation as number | undefined, 0);
  const observed = status.observedGeneration;
  const group = obj.apiVersion.includes('/') ? obj.apiVersion.slice(0, obj.apiVersion.indexOf('/')) : '';
  const kind = obj.kind;

  // Kinds whose controller always writes observedGeneration: its absence means not observed yet.
  const workload = (group === 'apps' && (kind === 'Deployment' || kind === 'StatefulSet' || kind === 'DaemonSet' || kind === 'ReplicaSet'))
    || (group === '' && kind === 'ReplicationController')
    || (group === 'policy' && kind === 'PodDisruptionBudget');
  if (workload || typeof observed === 'number') {
    if (typeof observed !== 'number' || observed < generation) {
      return { health: 'Progressing', message: `waiting for the controller to observe generation ${generation}` };
    }
  }

  if (group === 'apps' && kind === 'Deployment') {
    const want = num(spec.replicas, 1);
    const progressing = condition(status, 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') return { health: 'Degraded', message: `rollout stalled: ${describe(progressing)}` };
    const updated = num(status.updatedReplicas);
    const available = num(status.availableReplicas);
    const total = num(status.replicas);
    if (updated < want) return { health: 'Progressing', message: `${updated} of ${want} replicas updated` };
    if (total > updated) return { health: 'Progressing', message: `${total - updated} old replicas pending termination` };
    if (available < want) return { health: 'Progressing', message: `${available} of ${want} replicas available` };
    return { health: 'Healthy' };
  }
  if (group === 'apps' && kind === 'StatefulSet') {
    const want = num(spec.replicas, 1);
    const ready = num(status.readyReplicas);
    const strategy = (spec.updateStrategy as { type?: string } | undefined)?.type ?? 'RollingUpdate';
    if (strategy === 'RollingUpdate') {
      if (num(status.updatedReplicas) < want) return { health: 'Progressing', message: `${num(status.updatedReplicas)} of ${want} replicas updated` };
      if (status.updateRevision && status.currentRevision !== status.updateRevision) return { health: 'Progressing', message: 'rolling update in progress' };
    }
    if (ready < want) return { health: 'Progressing', message: `${ready} of ${want} replicas ready` };
    return { health: 'Healthy' };
  }
  if (group === 'apps' && kind === 'DaemonSet') {
    const want = num(status.desiredNumberScheduled);
    if (num(status.updatedNumberScheduled) < want) return { health: 'Progressing', message: `${num(status.updatedNumberScheduled)} of ${want} pods updated` };
    if (num(status.numberAvailable) < want) return { health: 'Progressing', message: `${num(status.numberAvailable)} of ${want} pods available` };
    return { health: 'Healthy' };
  }
  if ((group === 'apps' && kind === 'ReplicaSet') || (group === '' && kind === 'ReplicationController')) {
    const want = num(spec.replicas, 1);
    if (num(status.availableReplicas) < want) return { health: 'Progressing', message: `${num(status.availableReplicas)} of ${want} replicas available` };
    return { health: 'Healthy' };
  }
  if (group === 'policy' && kind === 'PodDisruptionBudget') {
    const healthy = num(status.currentHealthy);
    const desired = num(status.desiredHealthy);
    if (healthy < desired) return { health: 'Progressing', message: `${healthy} of ${desired} pods healthy` };
    return { health: 'Healthy' };
  }
  if (group === '' && kind === 'Pod') {
    if (status.phase === 'Succeeded') return { health: 'Healthy' };
    if (status.phase === 'Failed') return { health: 'Degraded', message: `pod failed${status.reason ? `: ${String(status.reason)}` : ''}` };
    const ready = condition(status, 'Ready');
    if (status.phase === 'Running' && ready?.status === 'True') return { health: 'Healthy' };
    return { health: 'Progressing', message: `pod is ${String(status.phase ?? 'Pending')}${ready ? `, Ready is ${ready.status}` : ''}` };
  }
  if (group === '' && kind === 'Service' && spec.type === 'LoadBalancer') {
    const ingress = (status.loadBalancer as { ingress?: unknown[] } | undefined)?.ingress;
    if (Array.isArray(ingress) && ingress.length > 0) return { health: 'Healthy' };
    return { health: 'Progressing', message: 'waiting for a load balancer address' };
  }
  if (group === 'batch' && kind === 'Job') {
    const failed = condition(status, 'Failed');
    if (failed?.status === 'True') return { health: 'Degraded', message: `job failed: ${describe(failed)}` };
    const complete = condition(status, 'Complete');
    if (complete?.status === 'True') return { health: 'Healthy' };
    return { health: 'Progressing', message: 'job not complete yet' };
  }
  if (group === 'apiextensions.k8s.io' && kind === 'CustomResourceDefinition') {
    const est = condition(status, 'Established');
    if (est?.status === 'True') return { health: 'Healthy' };
    const names = condition(status, 'NamesAccepted');
    if (names?.status === 'False') return { health: 'Degraded', message: `names not accepted: ${describe(names)}` };
    return { health: 'Progressing', message: 'CRD not established yet' };
  }
  if (group === 'apiregistration.k8s.io' && kind === 'APIService') {
    const av = condition(status, 'Available');
    if (av?.status === 'True') return { health: 'Healthy' };
    if (!av) return { health: 'Progressing', message: 'API service has no Available condition yet' };
    return { health: 'Progressing', message: `API service not available: ${describe(av) || `Available is ${String(av.status)}`}` };
  }
  if (group === '' && kind === 'Namespace') {
    return status.phase === 'Terminating' ? { health: 'Progressing', message: 'namespace is terminating' } : { health: 'Healthy' };
  }
  if (group === '' && kind === 'PersistentVolumeClaim') {
    return status.phase === 'Bound' ? { health: 'Healthy' } : { health: 'Progressing', message: `claim is ${String(status.phase ?? 'Pending')}` };
  }
  const ready = condition(status, 'Ready');
  if (ready) {
    if (ready.status === 'True') return { health: 'Healthy' };
    return { health: 'Progressing', message: `Ready is ${ready.status}${describe(ready) ? `: ${describe(ready)}` : ''}` };
  }
  const stalled = condition(status, 'Stalled');
  if (stalled?.status === 'True') return { health: 'Degraded', message: `stalled: ${describe(stalled)}` };
  return { health: 'Healthy' };
}
