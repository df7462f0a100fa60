// The bundle `promote init` writes, in the three kinds a bundle can be (DESIGN.md §4b): plain
// manifests with ${params.…}, a Helm chart whose values are the parameters, or a kustomization
// over a base. All three take the same parameters (namespace, replicas, logLevel) and render the
// same objects, so the environments and the pipeline scaffold.ts writes fit each of them.

/** What renders the scaffolded bundle (default plain manifests). */
export type ScaffoldRenderer = 'plain' | 'helm' | 'kustomize';

/** Everything that may differ between environments, for all three kinds of bundle. */
function parameterProperties(): Record<string, object> {
  return {
    namespace: { description: 'Namespace every object goes to.', type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    replicas: { description: 'Pods of the web Deployment.', type: 'integer', minimum: 1, maximum: 20, default: 1 },
    logLevel: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
  };
}

function parameterSchemaText(title: string): string {
  return `${JSON.stringify(
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title,
      description: 'Everything that may differ between environments. Nothing else can.',
      type: 'object',
      required: ['namespace'],
      properties: parameterProperties(),
    },
    null,
    2,
  )}\n`;
}

const CONTAINER = (level: string, stage: string) => `      containers:
        - name: web
          image: ghcr.io/stefanprodan/podinfo:6.14.1
          args: ["./podinfo", "--port=9898", "--level=${level}"]
          ports:
            - name: http
              containerPort: 9898
          env:
            - name: PODINFO_UI_COLOR
              value: "#34577c"
            - name: PODINFO_UI_MESSAGE
              value: "hello from ${stage}"
          readinessProbe:
            httpGet: {path: /readyz, port: http}
          resources:
            requests: {cpu: 10m, memory: 32Mi}
            limits: {memory: 128Mi}
`;

/** The files of bundles/<name>/, by path from the project root. */
export function bundleFiles(name: string, renderer: ScaffoldRenderer): Record<string, string> {
  return renderer === 'helm' ? helmBundle(name) : renderer === 'kustomize' ? kustomizeBundle(name) : plainBundle(name);
}

/** A chart whose values are the parameters: values.schema.json is the bundle's parameter schema. */
function helmBundle(name: string): Record<string, string> {
  const b = `bundles/${name}`;
  return {
    [`${b}/bundle.yaml`]: `# One bundle for every environment: a Helm chart, rendered with \`helm template\` where it is
# applied. Each environment's parameters are the chart's values, checked against the chart's own
# values.schema.json (the bundle's parameter schema when spec.parameters is not given);
# promote's built-ins are under .Values.global.promote (stage, environment, cluster, digest).
apiVersion: promote/v1
kind: Bundle
metadata:
  name: ${name}
spec:
  helm:
    chart: chart
    releaseName: ${name}
    namespace: \${params.namespace}
`,
    [`${b}/chart/Chart.yaml`]: `apiVersion: v2
name: ${name}
description: ${name}, promoted by digest with promote
type: application
version: 0.1.0
appVersion: "6.14.1"
`,
    [`${b}/chart/values.yaml`]: `# The defaults (values.schema.json states the same ones). The namespace has none: every
# environment names its own (environments/*.yaml), and spec.helm.namespace in bundle.yaml takes it.
replicas: 1
logLevel: info
`,
    [`${b}/chart/values.schema.json`]: parameterSchemaText(`${name} values`),
    [`${b}/chart/templates/namespace.yaml`]: `apiVersion: v1
kind: Namespace
metadata:
  name: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/environment: {{ .Values.global.promote.environment }}
`,
    [`${b}/chart/templates/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
    app.kubernetes.io/environment: {{ .Values.global.promote.environment }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Release.Name }}
    spec:
${CONTAINER('{{ .Values.logLevel }}', '{{ .Values.global.promote.stage }}')}`,
    [`${b}/chart/templates/service.yaml`]: `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/environment: {{ .Values.global.promote.environment }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Release.Name }}
  ports:
    - name: http
      port: 80
      targetPort: http
`,
  };
}

/** A kustomization over a base; the parameters reach it by ${params.…} substitution before the build. */
function kustomizeBundle(name: string): Record<string, string> {
  const b = `bundles/${name}`;
  return {
    [`${b}/bundle.yaml`]: `# One bundle for every environment: a kustomization, built with \`kustomize build\` where it is
# applied. \${params.…} and \${promote.…} in the bundle's files are replaced first (values
# checked against params.schema.json), so patches, transformers and generators see them: one
# kustomization takes the place of an overlay per environment.
apiVersion: promote/v1
kind: Bundle
metadata:
  name: ${name}
spec:
  parameters: params.schema.json
  kustomize:
    path: app
`,
    [`${b}/params.schema.json`]: parameterSchemaText(`${name} parameters`),
    [`${b}/app/kustomization.yaml`]: `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: \${params.namespace}
resources:
  - namespace.yaml
  - ../base
labels:
  - pairs:
      app.kubernetes.io/environment: \${promote.environment}
patches:
  - path: replicas.yaml
`,
    [`${b}/app/namespace.yaml`]: `apiVersion: v1
kind: Namespace
metadata:
  name: \${params.namespace}
`,
    [`${b}/app/replicas.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: \${params.replicas}
`,
    [`${b}/base/kustomization.yaml`]: `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
`,
    [`${b}/base/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app.kubernetes.io/name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${name}
    spec:
${CONTAINER('\${params.logLevel}', '\${promote.stage}')}`,
    [`${b}/base/service.yaml`]: `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app.kubernetes.io/name: ${name}
  ports:
    - name: http
      port: 80
      targetPort: http
`,
  };
}

function plainBundle(name: string): Record<string, string> {
  const b = `bundles/${name}`;
  return {
    [`${b}/bundle.yaml`]: `# One bundle for every environment: what may differ between them is declared in
# params.schema.json, and nothing else can differ. Build it once, promote it by digest.
apiVersion: promote/v1
kind: Bundle
metadata:
  name: ${name}
spec:
  parameters: params.schema.json
  manifests: manifests/
`,
    [`${b}/params.schema.json`]: parameterSchemaText(`${name} parameters`),
    [`${b}/manifests/namespace.yaml`]: `apiVersion: v1
kind: Namespace
metadata:
  name: \${params.namespace}
  labels:
    app.kubernetes.io/environment: \${promote.environment}
`,
    [`${b}/manifests/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: \${params.namespace}
  labels:
    app.kubernetes.io/name: ${name}
    app.kubernetes.io/environment: \${promote.environment}
spec:
  replicas: \${params.replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: ${name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${name}
    spec:
${CONTAINER('\${params.logLevel}', '\${promote.environment}')}`,
    [`${b}/manifests/service.yaml`]: `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: \${params.namespace}
  labels:
    app.kubernetes.io/environment: \${promote.environment}
spec:
  selector:
    app.kubernetes.io/name: ${name}
  ports:
    - name: http
      port: 80
      targetPort: http
`,
  };
}

