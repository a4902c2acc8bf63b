{{/*
Names, labels, and the rules every render must satisfy. Secret values are only ever placed in
Secret objects (secret.yaml); nothing here copies one into a ConfigMap, an annotation or an
argument.
*/}}

{{- define "killswitch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "killswitch.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "killswitch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "killswitch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "killswitch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "killswitch.labels" -}}
helm.sh/chart: {{ include "killswitch.chart" . }}
{{ include "killswitch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: runner
app.kubernetes.io/part-of: killswitch
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "killswitch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "killswitch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The leader Service (ha mode, leaderService.enabled): "true" or "". The pod holding the lease labels
itself with roleLabel=leader (ksctl run --kube-leader-label), the others with standby.
*/}}
{{- define "killswitch.leaderService" -}}
{{- if and (eq .Values.mode "ha") .Values.leaderService.enabled }}true{{ end }}
{{- end }}

{{- define "killswitch.roleLabel" -}}killswitch.io/role{{- end }}

{{- define "killswitch.leaderServiceName" -}}
{{- printf "%s-leader" (include "killswitch.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/*
Shards (values `shards`): one Deployment, leader Service and PodDisruptionBudget per shard, each
shard's pods labelled shardLabel=<name>; the release's Service, the NetworkPolicy and the
ServiceMonitor select every shard's pods (they select on selectorLabels alone). The per-shard
templates range over "killswitch.units", which fills .out.units with one template context per
shard: the root's Chart, Release, Files, Capabilities and Template, Values with the shard's
overrides in place (replicas as ha.replicas, readers as runner.readers; resources, nodeSelector,
tolerations, affinity, topologySpreadConstraints, podAnnotations and podLabels replace the chart's;
extraArgs and extraEnv come after runner.extraArgs and runner.extraEnv), and `shard` (the shard's
entry). Without shards
.out.units is the root context alone, and the templates render as they did before shards existed.
Given (dict "root" $ "out" (dict)).
*/}}
{{- define "killswitch.units" -}}
{{- $root := .root }}
{{- $units := list }}
{{- range $shard := $root.Values.shards | default list }}
{{- $values := dict }}
{{- range $key, $value := $root.Values }}{{ $_ := set $values $key $value }}{{ end }}
{{- range $key := list "resources" "nodeSelector" "tolerations" "affinity" "topologySpreadConstraints" "podAnnotations" "podLabels" }}
{{- if hasKey $shard $key }}{{ $_ := set $values $key (index $shard $key) }}{{ end }}
{{- end }}
{{- $ha := dict }}
{{- range $key, $value := $root.Values.ha }}{{ $_ := set $ha $key $value }}{{ end }}
{{- if hasKey $shard "replicas" }}{{ $_ := set $ha "replicas" $shard.replicas }}{{ end }}
{{- $_ := set $values "ha" $ha }}
{{- $runner := dict }}
{{- range $key, $value := $root.Values.runner }}{{ $_ := set $runner $key $value }}{{ end }}
{{- if hasKey $shard "readers" }}{{ $_ := set $runner "readers" $shard.readers }}{{ end }}
{{- $_ := set $runner "extraArgs" (concat ($root.Values.runner.extraArgs | default list) (get $shard "extraArgs" | default list)) }}
{{- $_ := set $runner "extraEnv" (concat ($root.Values.runner.extraEnv | default list) (get $shard "extraEnv" | default list)) }}
{{- $_ := set $values "runner" $runner }}
{{- $units = append $units (dict "Values" $values "Chart" $root.Chart "Release" $root.Release "Files" $root.Files "Capabilities" $root.Capabilities "Template" $root.Template "shard" $shard) }}
{{- end }}
{{- $_ := set .out "units" ($units | default (list $root)) }}
{{- end }}

{{- define "killswitch.shardLabel" -}}killswitch.io/shard{{- end }}

{{/* The shard's label (shardLabel: <name>) of a unit's context; "" without shards. */}}
{{- define "killswitch.shardLabels" -}}
{{- if hasKey . "shard" }}{{ include "killswitch.shardLabel" . }}: {{ .shard.name }}{{ end }}
{{- end }}

{{/*
The labels that select one unit's pods: the release's selectorLabels, and the shard's label with
shards (a shard's Deployment, PDB, leader Service, anti-affinity and spread see its pods only).
*/}}
{{- define "killswitch.podSelectorLabels" -}}
{{ include "killswitch.selectorLabels" . }}
{{- with include "killswitch.shardLabels" . }}
{{ . }}
{{- end }}
{{- end }}

{{/*
The shard's objects are named <prefix>-<shard> (Deployment, PDB) and <prefix>-<shard>-leader (its
leader Service, a DNS label of at most 63 characters). The prefix is the fullname cut so that the
longest shard name of the release fits: one prefix for every shard, so distinct shards never get
one name.
*/}}
{{- define "killswitch.shardPrefix" -}}
{{- $longest := 0 }}
{{- range .Values.shards }}{{ if gt (len .name) $longest }}{{ $longest = len .name }}{{ end }}{{ end }}
{{- include "killswitch.fullname" . | trunc (int (sub 55 $longest)) | trimSuffix "-" }}
{{- end }}

{{/* A unit's Deployment and PDB name: the fullname, or <prefix>-<shard>. */}}
{{- define "killswitch.unitName" -}}
{{- if hasKey . "shard" }}
{{- printf "%s-%s" (include "killswitch.shardPrefix" .) .shard.name }}
{{- else }}
{{- include "killswitch.fullname" . }}
{{- end }}
{{- end }}

{{/* A unit's leader Service name. */}}
{{- define "killswitch.unitLeaderServiceName" -}}
{{- if hasKey . "shard" }}
{{- printf "%s-leader" (include "killswitch.unitName" .) }}
{{- else }}
{{- include "killswitch.leaderServiceName" . }}
{{- end }}
{{- end }}

{{- define "killswitch.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "killswitch.replicas" -}}
{{- if eq .Values.mode "ha" }}{{ .Values.ha.replicas }}{{ else }}1{{ end }}
{{- end }}

{{/* Where things live in the runner's container. */}}
{{- define "killswitch.policiesMount" -}}/etc/killswitch/policies{{- end }}
{{- define "killswitch.accountsMount" -}}/etc/killswitch/accounts{{- end }}
{{- define "killswitch.runbooksMount" -}}/etc/killswitch/runbooks{{- end }}
{{- define "killswitch.stateMount" -}}/var/lib/killswitch{{- end }}
{{- define "killswitch.runMount" -}}/run/killswitch{{- end }}
{{- define "killswitch.apiTokenMount" -}}{{ .Values.apiToken.mountPath | default "/var/run/secrets/killswitch-token" | trimSuffix "/" }}{{- end }}
{{- define "killswitch.stateUrlMount" -}}{{ .Values.ha.postgresql.mountPath | default "/var/run/secrets/killswitch-state" | trimSuffix "/" }}{{- end }}

{{/* The directory passed to --policies. */}}
{{- define "killswitch.policiesPath" -}}
{{- if .Values.policies.gitSync.enabled }}
{{- $sub := .Values.policies.gitSync.path | trimPrefix "/" | trimSuffix "/" }}
{{- if $sub }}
{{- printf "%s/%s/%s" (include "killswitch.policiesMount" .) .Values.policies.gitSync.link $sub }}
{{- else }}
{{- printf "%s/%s" (include "killswitch.policiesMount" .) .Values.policies.gitSync.link }}
{{- end }}
{{- else }}
{{- include "killswitch.policiesMount" . }}
{{- end }}
{{- end }}

{{/* The file passed to --accounts. */}}
{{- define "killswitch.accountsPath" -}}
{{- if .Values.accounts.path }}
{{- printf "%s/%s" (include "killswitch.policiesPath" .) (.Values.accounts.path | trimPrefix "/") }}
{{- else }}
{{- printf "%s/%s" (include "killswitch.accountsMount" .) .Values.accounts.key }}
{{- end }}
{{- end }}

{{/*
The policy files the chart puts in its ConfigMap: files/policies/*.yaml packaged with the chart,
then policies.files (which wins on a name clash). Rendered as YAML so that the checksum and the
ConfigMap are computed from the same map.
*/}}
{{- define "killswitch.policyFiles" -}}
{{- $files := dict }}
{{- range $path, $_ := .Files.Glob "files/policies/*.{yaml,yml}" }}
{{- $_ := set $files (base $path) ($.Files.Get $path) }}
{{- end }}
{{- range $name, $content := .Values.policies.files }}
{{- $_ := set $files $name $content }}
{{- end }}
{{- toYaml $files }}
{{- end }}

{{/*
The runbook templates the chart puts in its ConfigMap: files/runbooks/*.j2 packaged with the chart,
then runbooks.files (which wins on a name clash). YAML, as for the policies, so that the checksum
and the ConfigMap are computed from the same map.
*/}}
{{- define "killswitch.runbookFiles" -}}
{{- $files := dict }}
{{- range $path, $_ := .Files.Glob "files/runbooks/*.j2" }}
{{- $_ := set $files (base $path) ($.Files.Get $path) }}
{{- end }}
{{- range $name, $content := .Values.runbooks.files }}
{{- $_ := set $files $name $content }}
{{- end }}
{{- toYaml $files }}
{{- end }}

{{/*
Where the runbook templates come from: "chart" (the chart's ConfigMap), "configMap" (an existing
one), "gitSync" (runbooks.path of the policy checkout), or "" (none: no --runbooks, and the runner
uses its built-in runbook). A ConfigMap, when given, wins over the git-sync checkout.
*/}}
{{- define "killswitch.runbooksSource" -}}
{{- if .Values.runbooks.existingConfigMap }}configMap
{{- else if fromYaml (include "killswitch.runbookFiles" .) }}chart
{{- else if and .Values.policies.gitSync.enabled (.Values.runbooks.path | trimPrefix "/" | trimSuffix "/") }}gitSync
{{- end }}
{{- end }}

{{/* The directory passed to --runbooks ("" when there are no runbook templates). */}}
{{- define "killswitch.runbooksPath" -}}
{{- $source := include "killswitch.runbooksSource" . }}
{{- if eq $source "gitSync" }}
{{- printf "%s/%s/%s" (include "killswitch.policiesMount" .) .Values.policies.gitSync.link (.Values.runbooks.path | trimPrefix "/" | trimSuffix "/") }}
{{- else if $source }}
{{- include "killswitch.runbooksMount" . }}
{{- end }}
{{- end }}

{{- define "killswitch.runbooksConfigMapName" -}}
{{- .Values.runbooks.existingConfigMap | default (printf "%s-runbooks" (include "killswitch.fullname" .)) }}
{{- end }}

{{- define "killswitch.policiesConfigMapName" -}}
{{- .Values.policies.existingConfigMap | default (printf "%s-policies" (include "killswitch.fullname" .)) }}
{{- end }}

{{- define "killswitch.accountsConfigMapName" -}}
{{- .Values.accounts.existingConfigMap | default (printf "%s-accounts" (include "killswitch.fullname" .)) }}
{{- end }}

{{- define "killswitch.apiTokenSecretName" -}}
{{- .Values.apiToken.existingSecret | default (printf "%s-api-token" (include "killswitch.fullname" .)) }}
{{- end }}

{{- define "killswitch.auditKeySecretName" -}}
{{- .Values.auditKey.existingSecret | default (printf "%s-audit-key" (include "killswitch.fullname" .)) }}
{{- end }}

{{- define "killswitch.stateSecretName" -}}
{{- .Values.ha.postgresql.existingSecret | default (printf "%s-state" (include "killswitch.fullname" .)) }}
{{- end }}

{{- define "killswitch.pvcName" -}}
{{- .Values.single.persistence.existingClaim | default (printf "%s-state" (include "killswitch.fullname" .)) }}
{{- end }}

{{/*
A digest of the chart-managed secret values, so that changing one rolls the pods (the runner reads
its secret files at start). Only a SHA-256 of the values leaves the Secret objects.
*/}}
{{- define "killswitch.secretsChecksum" -}}
{{- $in := dict "env" .Values.secrets.env "files" .Values.secrets.files "token" .Values.apiToken.value "state" .Values.ha.postgresql.url "audit" .Values.auditKey.value }}
{{- toYaml $in | sha256sum }}
{{- end }}

{{/*
The rules the values schema cannot express (or cannot explain well). Included by the Deployment,
so `helm template`, `helm lint` and `helm install` all stop on them with the message below.
*/}}
{{- define "killswitch.validate" -}}
{{- $v := .Values }}
{{- $chartFiles := fromYaml (include "killswitch.policyFiles" .) }}
{{- $sources := 0 }}
{{- if $chartFiles }}{{ $sources = add1 $sources }}{{ end }}
{{- if $v.policies.existingConfigMap }}{{ $sources = add1 $sources }}{{ end }}
{{- if $v.policies.gitSync.enabled }}{{ $sources = add1 $sources }}{{ end }}
{{- if ne $sources 1 }}
{{- fail "killswitch: give the policies exactly one way: policies.files (or files under the chart's files/policies/), policies.existingConfigMap, or policies.gitSync.enabled=true" }}
{{- end }}
{{- if and $v.policies.gitSync.enabled (not $v.policies.gitSync.repo) }}
{{- fail "killswitch: policies.gitSync.enabled=true needs policies.gitSync.repo (the policy repository's URL)" }}
{{- end }}
{{- if and $v.runbooks.existingConfigMap (fromYaml (include "killswitch.runbookFiles" .)) }}
{{- fail "killswitch: give the runbook templates at most one way: runbooks.files (or files under the chart's files/runbooks/) or runbooks.existingConfigMap" }}
{{- end }}
{{- if $v.shards }}
{{- if ne $v.mode "ha" }}
{{- fail "killswitch: shards need the PostgreSQL state (mode=ha with ha.postgresql.existingSecret or ha.postgresql.url): every shard keeps its own lease, fencing token and journal in a schema of its own there, and the firm-wide breaker reads every shard's facts from it; mode=single keeps SQLite on one volume" }}
{{- end }}
{{- $seen := dict }}
{{- range $v.shards }}
{{- if hasKey $seen .name }}
{{- fail (printf "killswitch: the shard name %q is given twice in shards: each shard has a Deployment, a leader Service, a PDB and a PostgreSQL schema of its own, named after it" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- end }}
{{- end }}
{{- $accounts := 0 }}
{{- if $v.accounts.document }}{{ $accounts = add1 $accounts }}{{ end }}
{{- if $v.accounts.existingConfigMap }}{{ $accounts = add1 $accounts }}{{ end }}
{{- if $v.accounts.path }}{{ $accounts = add1 $accounts }}{{ end }}
{{- if ne $accounts 1 }}
{{- fail "killswitch: give the Accounts document exactly one way: accounts.document (e.g. --set-file accounts.document=policies/accounts.yaml), accounts.existingConfigMap, or accounts.path (a file inside the policies source)" }}
{{- end }}
{{- if eq $v.mode "ha" }}
{{- if not (or $v.ha.postgresql.existingSecret $v.ha.postgresql.url) }}
{{- fail "killswitch: mode=ha needs a PostgreSQL URL from a Secret: set ha.postgresql.existingSecret (a Secret whose key ha.postgresql.key holds postgresql://...) or ha.postgresql.url; replicas share state there and the lease decides which one acts" }}
{{- end }}
{{- if and $v.ha.postgresql.existingSecret $v.ha.postgresql.url }}
{{- fail "killswitch: set ha.postgresql.existingSecret or ha.postgresql.url, not both" }}
{{- end }}
{{- if and $v.ha.postgresql.url (not (regexMatch "^postgres(ql)?://" $v.ha.postgresql.url)) }}
{{- fail "killswitch: ha.postgresql.url must start with postgresql:// (or postgres://)" }}
{{- end }}
{{- if lt (int $v.ha.replicas) 2 }}
{{- fail "killswitch: mode=ha runs two or more replicas (ha.replicas >= 2); use mode=single for one" }}
{{- end }}
{{- if and $v.leaderService.enabled (not $v.serviceAccount.create) (not $v.serviceAccount.name) }}
{{- fail "killswitch: leaderService.enabled lets the runner's service account patch the namespace's pods: give it an account of its own (serviceAccount.create=true, or serviceAccount.name), not the namespace's default one; or leaderService.enabled=false" }}
{{- end }}
{{- end }}
{{- $maxUnavailable := $v.podDisruptionBudget.maxUnavailable }}
{{- if kindIs "string" $maxUnavailable }}
{{- if not (regexMatch "^([1-9][0-9]?|100)%$" $maxUnavailable) }}
{{- fail (printf "killswitch: podDisruptionBudget.maxUnavailable %q: a whole number of pods (at least 1) or a percentage from 1%% to 100%%" $maxUnavailable) }}
{{- end }}
{{- else if lt (int $maxUnavailable) 1 }}
{{- fail "killswitch: podDisruptionBudget.maxUnavailable must be at least 1, or node drains would block" }}
{{- end }}
{{- if $v.tls.enabled }}
{{- if not $v.tls.existingSecret }}
{{- fail "killswitch: tls.enabled needs tls.existingSecret: a Secret with tls.crt and tls.key (and ca.crt for client certificates), as cert-manager's Certificate writes it" }}
{{- end }}
{{- if eq $v.tls.clientAuthType "RequireAndVerifyClientCert" }}
{{- fail "killswitch: tls.clientAuthType RequireAndVerifyClientCert would refuse the kubelet's probes (they carry no client certificate): use VerifyClientCertIfGiven, where a verified certificate is still its identity and every call that needs a role still needs a token or a certificate" }}
{{- end }}
{{- end }}
{{- include "killswitch.validateReferences" . }}
{{- end }}

{{/*
The documents the chart is given (accounts.document, policies.files and the chart's
files/policies/) reference secrets as {env: NAME} and {file: PATH}. A reference that nothing in the
pod provides stops the runner at start (AUTH): refuse such a render instead, saying what to set.
- a file must lie directly under secrets.mountPath (a Secret's keys are file names), and something
  must be mounted there: secrets.files with that key, or secrets.existingFilesSecret (whose keys
  the chart cannot see: the release notes list the keys it must hold);
- an environment variable must come from secrets.env, runner.extraEnv or secrets.existingSecret
  (whose keys, likewise, the notes list), unless its reference gives a default in the same flow
  mapping ({env: NAME, default: URL}: a plain local URL, used while NAME is unset).
Documents from an existing ConfigMap or from git-sync are not read by the chart and not checked.
*/}}
{{- define "killswitch.secretReferences" -}}
{{- $docs := list .Values.accounts.document }}
{{- range $name, $content := fromYaml (include "killswitch.policyFiles" .) }}
{{- $docs = append $docs $content }}
{{- end }}
{{- $files := list }}
{{- $envs := list }}
{{- range $doc := $docs }}
{{- range $m := regexFindAll "(^|[{,\\s])file:[ \\t]*[\"']?/[^\\s,}\"']+" (toString $doc) -1 }}
{{- $files = append $files (regexFind "/[^\\s,}\"']+$" $m) }}
{{- end }}
{{- /* {env: NAME, default: URL} needs nothing set: unset, its plain local default is used */ -}}
{{- $undefaulted := regexReplaceAll "env:[ \\t]*[\"']?[A-Za-z_][A-Za-z0-9_]*[\"']?[ \\t]*,[ \\t]*default:" (toString $doc) "defaulted:" }}
{{- range $m := regexFindAll "(^|[{,\\s])env:[ \\t]*[\"']?[A-Za-z_][A-Za-z0-9_]*" $undefaulted -1 }}
{{- $envs = append $envs (regexFind "[A-Za-z_][A-Za-z0-9_]*$" $m) }}
{{- end }}
{{- end }}
{{- dict "files" ($files | uniq | sortAlpha) "envs" ($envs | uniq | sortAlpha) | toJson }}
{{- end }}

{{- define "killswitch.validateReferences" -}}
{{- $v := .Values }}
{{- $refs := fromJson (include "killswitch.secretReferences" .) }}
{{- $mount := $v.secrets.mountPath | trimSuffix "/" }}
{{- range $path := $refs.files }}
{{- $key := trimPrefix (printf "%s/" $mount) $path }}
{{- if or (eq $key $path) (contains "/" $key) }}
{{- fail (printf "killswitch: the documents reference the file %s, which is not directly under secrets.mountPath (%s): nothing would mount it. Reference %s/<key> of secrets.files or secrets.existingFilesSecret" $path $mount $mount) }}
{{- end }}
{{- if not (or $v.secrets.existingFilesSecret (hasKey ($v.secrets.files | default dict) $key)) }}
{{- fail (printf "killswitch: the documents reference the file %s, but nothing provides it: set secrets.existingFilesSecret to a Secret with the key %s (kubectl create secret generic NAME --from-file=%s=PATH), or secrets.files.%s" $path $key $key $key) }}
{{- end }}
{{- end }}
{{- $extraEnv := list }}
{{- range $v.runner.extraEnv }}{{ $extraEnv = append $extraEnv .name }}{{ end }}
{{- range $name := $refs.envs }}
{{- if not (or $v.secrets.existingSecret (hasKey ($v.secrets.env | default dict) $name) (has $name $extraEnv)) }}
{{- fail (printf "killswitch: the documents reference the environment variable %s, but nothing sets it: reference a file instead, {file: %s/<key>}, with secrets.existingFilesSecret holding that key (kubectl create secret generic NAME --from-file=<key>=PATH): a secret in an environment variable shows in /proc and crash dumps; or, to keep {env: %s}, set secrets.existingSecret (a Secret with the key %s) or secrets.env.%s" $name $mount $name $name $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The git-sync container (https://github.com/kubernetes/git-sync, v4 flags): as an init container
with --one-time, then as a sidecar that keeps the worktree current. It writes the policies volume;
the runner mounts it read-only and reloads when a policy file changes.
*/}}
{{- define "killswitch.gitSyncContainer" -}}
{{- $ctx := .ctx }}
{{- $g := $ctx.Values.policies.gitSync -}}
image: {{ printf "%s:%s" $g.image.repository $g.image.tag }}
imagePullPolicy: {{ $g.image.pullPolicy }}
args:
  - --repo={{ $g.repo }}
  - --ref={{ $g.ref }}
  - --root=/git
  - --link={{ $g.link }}
  - --depth={{ $g.depth }}
  {{- if .oneTime }}
  - --one-time
  {{- else }}
  - --period={{ $g.period }}
  {{- end }}
  {{- with $g.credentials }}{{ if .existingSecret }}
  {{- if eq .type "ssh" }}
  - --ssh-key-file=/etc/git-secret/ssh
  - --ssh-known-hosts-file=/etc/git-secret/known_hosts
  {{- else }}
  {{- with .username }}
  - --username={{ . }}
  {{- end }}
  - --password-file=/etc/git-secret/password
  {{- end }}
  {{- end }}{{ end }}
  {{- range $g.extraArgs }}
  - {{ . | quote }}
  {{- end }}
env:
  - name: HOME
    value: /tmp
{{- with $g.existingSecret }}
# GITSYNC_USERNAME / GITSYNC_PASSWORD or other GITSYNC_* settings for a private repository.
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $ctx.Values.securityContext | nindent 2 }}
resources:
  {{- toYaml $g.resources | nindent 2 }}
volumeMounts:
  - name: policies
    mountPath: /git
  - name: tmp
    mountPath: /tmp
  {{- if ($g.credentials | default dict).existingSecret }}
  # the repository's credentials (policies.gitSync.credentials): files, never environment variables
  - name: git-secret
    mountPath: /etc/git-secret
    readOnly: true
  {{- end }}
{{- end }}

{{/*
The existing Secrets and ConfigMaps (made outside the chart) whose content the runner reads only at
start, so that a change in them needs the pods rolled: for reloader.enabled, and for the notes.
*/}}
{{- define "killswitch.externalObjects" -}}
{{- $v := .Values }}
{{- $secrets := list }}
{{- with $v.secrets.existingSecret }}{{ $secrets = append $secrets . }}{{ end }}
{{- with $v.secrets.existingFilesSecret }}{{ $secrets = append $secrets . }}{{ end }}
{{- if $v.apiToken.enabled }}{{ with $v.apiToken.existingSecret }}{{ $secrets = append $secrets . }}{{ end }}{{ end }}
{{- /* apiTokens.existingSecret is not listed: the runner reads its tokens document again when it changes */}}
{{- if $v.auditKey.enabled }}{{ with $v.auditKey.existingSecret }}{{ $secrets = append $secrets . }}{{ end }}{{ end }}
{{- if eq $v.mode "ha" }}{{ with $v.ha.postgresql.existingSecret }}{{ $secrets = append $secrets . }}{{ end }}{{ end }}
{{- $configMaps := list }}
{{- with $v.accounts.existingConfigMap }}{{ $configMaps = append $configMaps . }}{{ end }}
{{- with $v.runbooks.existingConfigMap }}{{ $configMaps = append $configMaps . }}{{ end }}
{{- dict "secrets" ($secrets | uniq) "configMaps" ($configMaps | uniq) | toJson }}
{{- end }}

{{/*
The pods' PriorityClass: an existing one named in priorityClassName, else the chart's own
(cluster-scoped, so the namespace is in its name), else none.
*/}}
{{- define "killswitch.priorityClassName" -}}
{{- if .Values.priorityClassName }}
{{- .Values.priorityClassName }}
{{- else if .Values.priorityClass.create }}
{{- printf "%s-%s" (include "killswitch.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The web config file's ConfigMap (tls.enabled) and where it is mounted. */}}
{{- define "killswitch.webConfigName" -}}
{{- include "killswitch.fullname" . }}-web-config
{{- end -}}
{{- define "killswitch.webConfigMount" -}}
/etc/killswitch/web
{{- end -}}

{{/* The sign-in's configuration's ConfigMap (signin.enabled) and where it is mounted. */}}
{{- define "killswitch.signinName" -}}
{{- include "killswitch.fullname" . }}-signin
{{- end -}}
{{- define "killswitch.signinMount" -}}
/etc/killswitch/signin
{{- end -}}

{{/* The trusted proxy's document's ConfigMap (trustedProxy.enabled) and where it is mounted. */}}
{{- define "killswitch.trustedProxyName" -}}
{{- include "killswitch.fullname" . }}-trusted-proxy
{{- end -}}
{{- define "killswitch.trustedProxyMount" -}}
/etc/killswitch/trusted-proxy
{{- end -}}

{{/* The API as the NOTES reach it: through a port-forward, and from inside the runner's pod
(https to localhost with tls.enabled: the certificate must name localhost). */}}
{{- define "killswitch.notesApi" -}}
{{- if .Values.tls.enabled -}}
https://localhost:{{ .Values.service.port }} --ca-file ks-ca.crt
{{- else -}}
http://127.0.0.1:{{ .Values.service.port }}
{{- end -}}
{{- end -}}
{{- define "killswitch.notesPodApi" -}}
{{- if .Values.tls.enabled -}}
https://localhost:{{ .Values.runner.apiPort }} --ca-file {{ .Values.tls.mountPath }}/ca.crt
{{- else -}}
http://127.0.0.1:{{ .Values.runner.apiPort }}
{{- end -}}
{{- end -}}
